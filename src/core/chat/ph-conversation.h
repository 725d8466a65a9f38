/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-core-enums.h"

#include "ph-contact-book.h"

#include "ph-ice-config.h"
#include "ph-ice-transport.h"
#include "ph-nat-check.h"
#include "ph-path.h"
#include "ph-rendezvous-client.h"

G_BEGIN_DECLS

/* The longest name, in characters, a peer may give itself. */
#define PH_CONVERSATION_MAX_NAME_LENGTH 64

/* One chat: signalling through the rendezvous server, ICE, the secure
 * channel, and the messages on it. Front ends (the app, pinhole-cli) only
 * talk to this object. */

typedef enum
{
  PH_CONVERSATION_STATE_IDLE,
  PH_CONVERSATION_STATE_WAITING_FOR_PEER, /* host: the code is shown */
  PH_CONVERSATION_STATE_CONNECTING,       /* PAKE, descriptions, ICE, TLS */
  PH_CONVERSATION_STATE_CONNECTED,
  PH_CONVERSATION_STATE_RECONNECTING, /* the path broke: ICE again through the mailbox */
  PH_CONVERSATION_STATE_CLOSED,       /* ended cleanly or the peer is gone */
  PH_CONVERSATION_STATE_FAILED,       /* see ph_conversation_get_error() */
} PhConversationState;

/* Time spent in each step of setting up the channel, in milliseconds. */
typedef struct
{
  double rendezvous_ms; /* code in → peer's sealed description opened */
  double ice_ms;        /* → ICE selected a pair and the stream is ready */
  double tls_ms;        /* → TLS handshake done and the peer's hello read */
  double total_ms;
} PhSetupTimes;

/* One change of the ICE state, in milliseconds since the conversation
 * started (hosting or joining). */
typedef struct
{
  double ms;
  PhIceState state;
} PhTimelineEntry;

#define PH_TYPE_CONVERSATION (ph_conversation_get_type ())
G_DECLARE_FINAL_TYPE (PhConversation, ph_conversation, PH, CONVERSATION, GObject)

/* Properties: "state", "code", "peer-name", "path", "peer-typing",
 * "retrying-rendezvous", "peer-wants-contact", "contact".
 * Signals:
 *  "message-received" (const char *id, gint64 time_ms, const char *text):
 *     each message once, in the order it was sent
 *  "message-sent" (const char *id): handed to the open channel (again after
 *     a reconnection)
 *  "message-delivered" (const char *id): the peer's app acknowledged it
 *  "message-failed" (const char *id, const char *reason): the conversation
 *     ended before the peer acknowledged it; reason "not delivered"
 *  "closed" (const char *reason): "peer-left", "peer-lost", "left"
 *  "failed" (const GError *error)
 *  "details-changed": a candidate, the ICE timeline, the round-trip time or
 *     the NAT type changed (for the connection inspector)
 *  "contact-saved" (PhContact *contact): both sides saved each other
 *     (ph_conversation_save_contact), @contact is in the contact book and
 *     the peer's ratchet bundle (for sealed copies) is in
 *  "contact-failed" (const GError *error): a peer's contact offer was
 *     refused (PH_CONTACT_ERROR_INVALID_OFFER: the chat goes on), or the
 *     contact could not be stored (PH_CONTACT_ERROR_STORAGE, …) */

PhConversation *ph_conversation_new (const char *rendezvous_url, const char *own_name,
                                     const PhIceConfig *ice_config);
/* Ask the rendezvous server's /v1/turn for STUN/TURN servers before ICE. */
void ph_conversation_set_use_server_turn (PhConversation *self, gboolean use_server_turn);
void ph_conversation_host (PhConversation *self);
/* Fails at once (FALSE, PH_ERROR_INVALID_CODE) when @code is malformed. */
gboolean ph_conversation_join (PhConversation *self, const char *code, GError **error);
/* Meeting @contact of @book again without a code (ph-contact-meetings.h):
 * hosting a mailbox, whose nameplate and PAKE message ("invitation") are
 * then for the caller to pass on, or joining the one the contact passed
 * on. The PAKE runs on a secret derived from the pair secret. Once
 * connected the peer must prove @contact's identity with a signed contact
 * offer; another identity fails the conversation with PH_ERROR_SECURITY
 * ("security"), and no message goes either way before the proof.
 * "contact" is @contact once proven. @began_us (monotonic) is when the
 * meeting began, when the peer was found online: the setup times count
 * from there. @host_pake and @host_description: the PAKE message and
 * the session description (or NULL) the invitation carried. */
void ph_conversation_host_contact (PhConversation *self, PhContactBook *book, PhContact *contact,
                                   gint64 began_us);
/* Before _join_contact(), when the contact is known to be about to
 * invite: starts gathering ICE candidates, so the join can carry them. */
gboolean ph_conversation_prepare_contact (PhConversation *self, PhContactBook *book,
                                          PhContact *contact, GError **error);
gboolean ph_conversation_join_contact (PhConversation *self, PhContactBook *book,
                                       PhContact *contact, const char *nameplate, GBytes *host_pake,
                                       const char *host_description, gint64 began_us,
                                       GError **error);
/* The host's PAKE message for the invitation, once "code" is set. */
GBytes *ph_conversation_dup_pake_message (PhConversation *self);
/* A meeting host's session description for the invitation, as far as
 * gathering got, if ICE has started and it fits in @max_length bytes (else
 * NULL); from then on the mailbox carries only later candidates. */
char *ph_conversation_describe_ahead (PhConversation *self, gsize max_length);
/* Before hosting or joining: talks to the rendezvous server through
 * @client's connections (ph_rendezvous_client_new_sharing()), which must
 * be of the same server. */
void ph_conversation_share_connections (PhConversation *self, PhRendezvousClient *client);
/* The contact given to _host_contact() or _join_contact(), else NULL. */
PhContact *ph_conversation_get_meeting_contact (PhConversation *self);
/* Queues a message and returns its id; it goes out as soon as the channel
 * is open, and again after a reconnection until the peer acknowledges it.
 * PH_ERROR_TOO_LARGE over PH_FRAME_MAX_TEXT_SIZE. */
char *ph_conversation_send_message (PhConversation *self, const char *text, GError **error);
/* Sends a message that already has its @id (a copy may have gone another
 * way: the peer drops the second by id, ph-contact-meetings.h). */
gboolean ph_conversation_send_message_with_id (PhConversation *self, const char *id, gint64 time_ms,
                                               const char *text, GError **error);
void ph_conversation_set_typing (PhConversation *self, gboolean typing);
/* Says goodbye once every queued message is written, then closes. */
void ph_conversation_leave (PhConversation *self);

/* Saving the peer as a contact ("Save Contact"), also before the chat is
 * connected: our contact offer goes out inside the channel, and once the
 * peer saved us too the contact is stored in @book (whose identity signs
 * the offer) and "contact-saved" is emitted. Until the peer saves, nothing
 * is stored on either side. */
void ph_conversation_save_contact (PhConversation *self, PhContactBook *book);
/* TRUE once the peer sent a valid contact offer that this side has not
 * answered with ph_conversation_save_contact(): "Bob wants to save you". */
gboolean ph_conversation_get_peer_wants_contact (PhConversation *self);
/* The peer's fingerprint from its contact offer, NULL before one. */
const char *ph_conversation_get_peer_fingerprint (PhConversation *self);
/* The saved contact (or the contact met again, once proven), else NULL. */
PhContact *ph_conversation_get_contact (PhConversation *self);
/* Contact offers from the peer that were refused. */
guint ph_conversation_get_refused_contact_offers (PhConversation *self);

PhConversationState ph_conversation_get_state (PhConversation *self);
const char *ph_conversation_get_code (PhConversation *self);
const char *ph_conversation_get_peer_name (PhConversation *self);
const PhPath *ph_conversation_get_path (PhConversation *self);
const GError *ph_conversation_get_error (PhConversation *self);
const PhSetupTimes *ph_conversation_get_setup_times (PhConversation *self);
/* Messages sent and not yet acknowledged. */
guint ph_conversation_get_unacknowledged (PhConversation *self);
/* The "candidate:…" lines this side gathered and the peer sent, in order,
 * for the current connection attempt. */
GStrv ph_conversation_dup_local_candidates (PhConversation *self);
GStrv ph_conversation_dup_remote_candidates (PhConversation *self);
/* Of PhTimelineEntry, every ICE state change, across reconnections. */
GArray *ph_conversation_get_timeline (PhConversation *self);
/* The latest ping's round trip through the channel in milliseconds, -1
 * before the first answer. */
double ph_conversation_get_round_trip_ms (PhConversation *self);
/* TRUE while setting up and the rendezvous server does not answer (or
 * lost the mailbox): it is being asked again, for a while. */
gboolean ph_conversation_get_peer_typing (PhConversation *self);
gboolean ph_conversation_get_retrying_rendezvous (PhConversation *self);
/* Data packets sent on the current path and how many went again because
 * the first copy was lost; FALSE while there is no path. */
gboolean ph_conversation_get_packet_counts (PhConversation *self, guint64 *sent, guint64 *resent);
/* What NAT this side is behind, tested against the STUN server in the
 * background when the conversation starts; PH_NAT_TYPE_UNKNOWN without a
 * STUN server or until the test is done, PH_NAT_TYPE_UDP_BLOCKED when the
 * server did not answer. */
PhNatType ph_conversation_get_nat_type (PhConversation *self);

G_END_DECLS
