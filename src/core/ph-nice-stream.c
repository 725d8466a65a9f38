/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-nice-stream"

#include "config.h"
