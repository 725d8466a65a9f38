/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-rendezvous-server"

#include "config.h"
