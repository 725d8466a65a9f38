/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "ph-conversation.h"
#include "ph-frame.h"
#include "ph-ice-transport.h"

G_BEGIN_DECLS

/* For tests: what the conversation runs on, and a way to put frames on its
 * channel that it would never send itself (repeated or skipped numbers). */
PhIceTransport *ph_conversation_get_ice_transport (PhConversation *self);
gboolean ph_conversation_send_raw_frame (PhConversation *self, const PhFrame *frame,
                                         GError **error);

G_END_DECLS
