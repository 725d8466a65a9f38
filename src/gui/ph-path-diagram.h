/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "ph-path.h"

G_BEGIN_DECLS

/* The selected path drawn as a chain: you ↔ your NAT ↔ (relay) ↔ their NAT
 * ↔ your peer, with the address each hop is known by. Hops the candidate
 * types do not imply are left out: two host candidates are drawn as a
 * straight line between the two computers. */

#define PH_TYPE_PATH_DIAGRAM (ph_path_diagram_get_type ())
G_DECLARE_FINAL_TYPE (PhPathDiagram, ph_path_diagram, PH, PATH_DIAGRAM, GtkWidget)

GtkWidget *ph_path_diagram_new (void);
void ph_path_diagram_set_path (PhPathDiagram *self, const PhPath *path, const char *peer_name);
/* The hops drawn, left to right, as "title (address)" strings. */
GStrv ph_path_diagram_dup_hops (PhPathDiagram *self);

G_END_DECLS
