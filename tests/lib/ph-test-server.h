/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stdarg.h>

#include "ph-rendezvous-server.h"

G_BEGIN_DECLS

/* A PhRendezvousServer in the test's own process, on loopback. */

/* Makes a server with the properties given (name, value, …, NULL) and
 * starts it on loopback @port (0: a free one); fails the test if it cannot
 * listen there. */
PhRendezvousServer *ph_test_server_start (guint port, const char *first_property, ...);
PhRendezvousServer *ph_test_server_start_valist (guint port, const char *first_property,
                                                 va_list args);

G_END_DECLS
