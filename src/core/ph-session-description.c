/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-session-description"

#include "config.h"
