/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Holds a port while its server is away: takes each connection and drops
 * it unanswered, as a server on its way down or up does, and counts them,
 * so a test can wait until the clients have found the server gone. */
typedef struct _PhTestDeadPort PhTestDeadPort;

PhTestDeadPort *ph_test_dead_port_new (guint16 port);
/* Waits up to @timeout_ms until @count connections came; returns whether. */
gboolean ph_test_dead_port_wait (PhTestDeadPort *self, guint count, guint timeout_ms);
/* Closes the port, free for a server again. */
void ph_test_dead_port_free (PhTestDeadPort *self);

G_END_DECLS
