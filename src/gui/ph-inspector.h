/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "ph-chat.h"

G_BEGIN_DECLS

/* The connection inspector: the path ICE selected, drawn and explained,
 * how long each step of the setup took, the NAT, the round-trip time, every
 * candidate and the ICE states in order. */

#define PH_TYPE_INSPECTOR (ph_inspector_get_type ())
G_DECLARE_FINAL_TYPE (PhInspector, ph_inspector, PH, INSPECTOR, GtkWidget)

GtkWidget *ph_inspector_new (void);
void ph_inspector_set_chat (PhInspector *self, PhChat *chat);
/* The facts shown, as plain text; what "Copy Connection Report" copies. */
char *ph_inspector_dup_report (PhInspector *self);
GtkWidget *ph_inspector_get_diagram (PhInspector *self);
/* Rows in the candidate list this side gathered, or received (@remote). */
guint ph_inspector_get_n_candidates (PhInspector *self, gboolean remote);
/* Plain words for a candidate type ("host", "srflx", "prflx", "relay"). */
const char *ph_inspector_explain_type (const char *candidate_type);

G_END_DECLS
