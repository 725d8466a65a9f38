/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-contact-meetings"

#include "config.h"

#include <sodium.h>
#include <string.h>

#include "ph-contact-meetings.h"
#include "ph-error.h"
#include "ph-meeting-keys.h"
#include "ph-meeting-point.h"
#include "ph-rendezvous-client.h"
#include "ph-sealed-mail.h"

/* Under the server's --max-hold (30 s by default) and HTTP timeouts. */
#define WAIT_SECONDS 25
/* A point's messages live 600 s on the server: `here` goes again well
 * before, and a contact not heard of for longer is taken for offline. */
#define HERE_EVERY_SECONDS 240
#define PRESENCE_SECONDS (2 * HERE_EVERY_SECONDS + 60)
#define RETRY_SECONDS 2
/* Side 2 asks for a new meeting this long after one failed, this many
 * times in a row at most (a peer that cannot connect stays away). */
#define AGAIN_AFTER_FAILURE_SECONDS 5
#define MAX_FAILURES_IN_A_ROW 3
#define SESSION_BYTES 16
/* How long leaving waits for the receipts of copies opened last. */
#define LEAVE_MAIL_SECONDS 5
/* One wait holds the points of this many contacts at most (two each,
 * today's and yesterday's), within the server's limit: 500 contacts wait
 * with two requests. */
#define CONTACTS_PER_WAIT (PH_MEETING_POINT_MAX_WAIT / 2)
/* Stored copies live 7 days on the server (--stored-lifetime): at start,
 * the points of the days before yesterday are looked at once for them. */
#define STORED_DAYS 8
/* After the session in a `here`: this side will invite (it came to write). */
#define HERE_INVITES "invites"
/* How long a conversation made ready for an invitation waits for it. */
#define PREPARED_PATIENCE_SECONDS 10

typedef struct
{
  PhContactMeetings *self;
  PhContact *contact;
  const char *side;
  gint64 day;
  /* Today's point, where `here` goes, and yesterday's: a contact whose
   * clock is already past midnight is still found. */
  char *keys[2];
  char ids[2][PH_MEETING_POINT_ID_LENGTH + 1];
  guint64 after[2];
  /* New for every process, and for every new try after a failure: side 1
   * hosts a new mailbox for each new session of side 2. */
  char session[2 * SESSION_BYTES + 1];
  gint64 session_began_us;
  char *peer_session;
  gint64 peer_seen_us;
  /* When we learnt that the peer's session is online: a meeting's setup
   * time counts from there. */
  gint64 peer_arrived_us;
  gboolean peer_said_bye;
  gboolean looked; /* a wait answered about its points: presence is known */
  gboolean online;
  guint64 answered_invitation;
  guint failures;
  guint again_id;
  PhConversation *conversation;
  /* Made when the peer says it invites, so that our ICE candidates are
   * gathered by the time its invitation comes; joins with it. */
  PhConversation *prepared;
  guint prepared_timeout_id;
  char *invitation_key; /* where we invite to our mailbox */
  /* We came to write to this contact (ph_contact_meetings_start() with
   * it alone): we host at once, and invite as soon as a first look finds
   * them online, whichever side we are; our `here` says so. */
  gboolean eager;
  gboolean invited;      /* and has invited */
  gboolean peer_invites; /* the peer's latest `here` says it invites */
} Meeting;

/* A point of an earlier day, looked at once for stored copies. */
typedef struct
{
  Meeting *meeting;
  char *key;
  char id[PH_MEETING_POINT_ID_LENGTH + 1];
} OldPoint;

struct _PhContactMeetings
{
  GObject parent_instance;

  char *rendezvous_url;
  PhRendezvousClient *client;
  PhSealedMail *mail; /* NULL when the profile's ratchet cannot be opened */
  PhContactBook *book;
  char *own_name;
  PhIceConfig *ice_config;
  gboolean use_server_turn;

  GPtrArray *meetings;   /* of Meeting */
  GPtrArray *old_points; /* of OldPoint, until their look is answered */
  GCancellable *cancellable;
  gboolean started;
  GTask *look_task; /* ph_contact_meetings_look_async(): presence only */
  guint looks_pending;
  GError *look_error;
  guint wait_generation; /* waits of an older one are over */
  gboolean leaving;
  guint wait_retry_id;
  guint here_timer_id;
  guint presence_timer_id;
  GTask *leave_task;
  guint byes_pending;
  guint leave_timeout_id;
};

G_DEFINE_FINAL_TYPE (PhContactMeetings, ph_contact_meetings, G_TYPE_OBJECT)

enum
{
  SIGNAL_CONVERSATION_STARTED,
  SIGNAL_PRESENCE_CHANGED,
  SIGNAL_MESSAGE_RECEIVED,
  SIGNAL_MESSAGE_DELIVERED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void wait_at_points (PhContactMeetings *self, guint wait_seconds);

static void
new_session (Meeting *meeting)
{
  guint8 bytes[SESSION_BYTES];

  randombytes_buf (bytes, sizeof bytes);
  sodium_bin2hex (meeting->session, sizeof meeting->session, bytes, sizeof bytes);
  meeting->session_began_us = g_get_monotonic_time ();
}

/* When both were online for this meeting: the later of our session's
 * start and the moment we found the peer's. */
static gint64
meeting_began (Meeting *meeting)
{
  return MAX (meeting->session_began_us, meeting->peer_arrived_us);
}

static void
leave_conversation (PhConversation *conversation)
{
  /* A conversation set up but replaced: its mailbox is left at once. */
  if (ph_conversation_get_state (conversation) < PH_CONVERSATION_STATE_CLOSED)
    ph_conversation_leave (conversation);
  g_object_unref (conversation);
}

static void
drop_conversation (Meeting *meeting)
{
  if (meeting->conversation == NULL)
    return;
  g_signal_handlers_disconnect_by_data (meeting->conversation, meeting);
  g_clear_pointer (&meeting->conversation, leave_conversation);
  g_clear_pointer (&meeting->invitation_key, g_free);
}

static void
drop_prepared (Meeting *meeting)
{
  g_clear_handle_id (&meeting->prepared_timeout_id, g_source_remove);
  g_clear_pointer (&meeting->prepared, leave_conversation);
}

static void
meeting_free (Meeting *meeting)
{
  drop_prepared (meeting);
  drop_conversation (meeting);
  g_clear_handle_id (&meeting->again_id, g_source_remove);
  g_object_unref (meeting->contact);
  for (guint i = 0; i < G_N_ELEMENTS (meeting->keys); i++)
    {
      if (meeting->keys[i] != NULL)
        sodium_memzero (meeting->keys[i], strlen (meeting->keys[i]));
      g_free (meeting->keys[i]);
    }
  g_free (meeting->peer_session);
  g_free (meeting);
}

static void
old_point_free (OldPoint *point)
{
  sodium_memzero (point->key, strlen (point->key));
  g_free (point->key);
  g_free (point);
}

/* The points of today and yesterday; after midnight yesterday's point and
 * what was read there carry over. */
static void
update_points (Meeting *meeting)
{
  GBytes *pair_secret = ph_contact_get_pair_secret (meeting->contact);
  gint64 today = ph_meeting_day_now ();

  if (meeting->keys[0] != NULL && meeting->day == today)
    return;
  if (meeting->keys[0] != NULL && meeting->day == today - 1)
    {
      g_free (meeting->keys[1]);
      meeting->keys[1] = g_steal_pointer (&meeting->keys[0]);
      memcpy (meeting->ids[1], meeting->ids[0], sizeof meeting->ids[0]);
      meeting->after[1] = meeting->after[0];
    }
  else
    {
      g_free (meeting->keys[1]);
      meeting->keys[1] = ph_meeting_point_key (pair_secret, today - 1);
      meeting->after[1] = 0;
      ph_meeting_point_id_from_key (meeting->keys[1], meeting->ids[1]);
    }
  g_free (meeting->keys[0]);
  meeting->keys[0] = ph_meeting_point_key (pair_secret, today);
  meeting->after[0] = 0;
  ph_meeting_point_id_from_key (meeting->keys[0], meeting->ids[0]);
  meeting->day = today;
}

static void
set_online (Meeting *meeting, gboolean online)
{
  if (meeting->online == online)
    return;
  meeting->online = online;
  g_debug ("%s is %s", ph_contact_get_name (meeting->contact), online ? "online" : "offline");
  if (meeting->looked)
    g_signal_emit (meeting->self, signals[SIGNAL_PRESENCE_CHANGED], 0, meeting->contact);
}

/* Posting at a point */

typedef struct
{
  PhContactMeetings *self;
  gboolean bye;
} Post;

static void finish_leaving (PhContactMeetings *self);

static void
posted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree Post *post = user_data;
  g_autoptr (PhContactMeetings) self = post->self;
  g_autoptr (GError) error = NULL;

  if (!ph_rendezvous_client_meet_post_finish (PH_RENDEZVOUS_CLIENT (source), result, NULL, &error))
    g_debug ("Posting at a meeting point failed: %s", error->message);

  if (self->leave_task != NULL && post->bye && --self->byes_pending == 0)
    finish_leaving (self);
}

static void
mail_idle_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhContactMeetings) self = user_data;

  ph_sealed_mail_wait_idle_finish (PH_SEALED_MAIL (source), result);
  g_clear_handle_id (&self->leave_timeout_id, g_source_remove);
  if (self->leave_task != NULL)
    g_task_return_boolean (g_steal_pointer (&self->leave_task), TRUE);
}

static void
leave_timeout_cb (gpointer user_data)
{
  PhContactMeetings *self = user_data;

  self->leave_timeout_id = 0;
  if (self->leave_task != NULL)
    g_task_return_boolean (g_steal_pointer (&self->leave_task), TRUE);
}

/* The byes are out: the receipts and deletions of copies opened last go
 * too (ph_sealed_mail_wait_idle_async), for a few seconds at most. */
static void
finish_leaving (PhContactMeetings *self)
{
  if (self->mail == NULL)
    {
      g_task_return_boolean (g_steal_pointer (&self->leave_task), TRUE);
      return;
    }
  self->leave_timeout_id = g_timeout_add_once (LEAVE_MAIL_SECONDS * 1000, leave_timeout_cb, self);
  ph_sealed_mail_wait_idle_async (self->mail, mail_idle_cb, g_object_ref (self));
}

static void
post_at (PhContactMeetings *self, Meeting *meeting, const char *key, const char *phase,
         GBytes *body)
{
  Post *post = g_new0 (Post, 1);

  post->self = g_object_ref (self);
  post->bye = g_str_equal (phase, "bye");
  /* Byes go out as the meetings stop: not to be cancelled with the wait. */
  ph_rendezvous_client_meet_post_async (self->client, key, meeting->side, phase, body, NULL,
                                        posted_cb, post);
}

static void
say_here (PhContactMeetings *self, Meeting *meeting)
{
  g_autofree char *text
      = g_strconcat (meeting->session, meeting->eager ? " " HERE_INVITES : "", NULL);
  g_autoptr (GBytes) body = g_bytes_new (text, strlen (text));

  update_points (meeting);
  post_at (self, meeting, meeting->keys[0], "here", body);
}

/* Messages, whichever way they came: a message left as a stored copy
 * may also come directly, and a receipt may follow a direct
 * acknowledgement. Telling each once is the outbox's (ph-contact-outbox.h),
 * which also knows what earlier runs saw. */

static void
tell_received (Meeting *meeting, const char *id, gint64 time_ms, const char *text)
{
  g_signal_emit (meeting->self, signals[SIGNAL_MESSAGE_RECEIVED], 0, meeting->contact, id, time_ms,
                 text);
}

/* A copy still on the server is not needed any more. */
static void
tell_delivered (Meeting *meeting, const char *id)
{
  if (meeting->self->mail != NULL)
    ph_sealed_mail_withdraw (meeting->self->mail, id);
  g_signal_emit (meeting->self, signals[SIGNAL_MESSAGE_DELIVERED], 0, meeting->contact, id);
}

static void
conversation_message_cb (PhConversation *conversation, const char *id, gint64 time_ms,
                         const char *text, Meeting *meeting)
{
  tell_received (meeting, id, time_ms, text);
}

static void
conversation_delivered_cb (PhConversation *conversation, const char *id, Meeting *meeting)
{
  tell_delivered (meeting, id);
}

static Meeting *find_contact (PhContactMeetings *self, PhContact *contact);

static void
copy_message_cb (PhSealedMail *mail, PhContact *contact, const char *id, gint64 time_ms,
                 const char *text, PhContactMeetings *self)
{
  Meeting *meeting = find_contact (self, contact);

  if (meeting != NULL)
    tell_received (meeting, id, time_ms, text);
}

static void
copy_delivered_cb (PhSealedMail *mail, PhContact *contact, const char *id, PhContactMeetings *self)
{
  Meeting *meeting = find_contact (self, contact);

  if (meeting != NULL)
    tell_delivered (meeting, id);
}

/* Conversations */

static void
again_cb (gpointer user_data)
{
  Meeting *meeting = user_data;

  meeting->again_id = 0;
  new_session (meeting);
  say_here (meeting->self, meeting);
}

static void
conversation_state_cb (PhConversation *conversation, GParamSpec *pspec, Meeting *meeting)
{
  PhConversationState state = ph_conversation_get_state (conversation);
  const GError *error = ph_conversation_get_error (conversation);

  if (state == PH_CONVERSATION_STATE_CONNECTED)
    {
      meeting->failures = 0;
      set_online (meeting, TRUE);
      return;
    }
  if (state != PH_CONVERSATION_STATE_FAILED)
    return;
  meeting->eager = FALSE;

  /* A peer of another identity gets no second try; anything else may be
   * the network, and side 2 asks for a new meeting a few times. */
  if (g_strcmp0 (meeting->side, "2") == 0 && !meeting->self->leaving
      && !g_error_matches (error, PH_ERROR, PH_ERROR_SECURITY)
      && ++meeting->failures <= MAX_FAILURES_IN_A_ROW && meeting->again_id == 0)
    meeting->again_id = g_timeout_add_once (AGAIN_AFTER_FAILURE_SECONDS * 1000, again_cb, meeting);
}

static void
announce (PhContactMeetings *self, Meeting *meeting)
{
  g_signal_emit (self, signals[SIGNAL_CONVERSATION_STARTED], 0, meeting->contact,
                 meeting->conversation);
}

/* The host's invitation goes out once its mailbox has a nameplate and it
 * knows where the peer is: at once for side 1 answering a `here`, after
 * the first look for an eager host. */
static void
post_invitation (Meeting *meeting)
{
  g_autoptr (GBytes) invitation = NULL;
  PhMeetingInvitation plain = {
    .nameplate = (char *)ph_conversation_get_code (meeting->conversation),
    .session = meeting->peer_session,
  };

  if (plain.nameplate == NULL || meeting->invitation_key == NULL || plain.session == NULL)
    return;
  plain.pake_message = ph_conversation_dup_pake_message (meeting->conversation);
  if (plain.pake_message == NULL)
    return;
  plain.description = ph_conversation_describe_ahead (meeting->conversation,
                                                      PH_MEETING_INVITATION_MAX_DESCRIPTION);
  invitation = ph_meeting_seal_invitation (ph_contact_get_pair_secret (meeting->contact),
                                           meeting->invitation_key, &plain);
  g_bytes_unref (plain.pake_message);
  g_free (plain.description);
  post_at (meeting->self, meeting, meeting->invitation_key, "auth", invitation);
  g_clear_pointer (&meeting->invitation_key, g_free);
  if (meeting->eager)
    {
      meeting->invited = TRUE;
      announce (meeting->self, meeting);
    }
}

static void
conversation_code_cb (PhConversation *conversation, GParamSpec *pspec, Meeting *meeting)
{
  post_invitation (meeting);
}

static PhConversation *
make_conversation (PhContactMeetings *self)
{
  PhConversation *conversation
      = ph_conversation_new (self->rendezvous_url, self->own_name, self->ice_config);

  ph_conversation_set_use_server_turn (conversation, self->use_server_turn);
  ph_conversation_share_connections (conversation, self->client);
  return conversation;
}

static PhConversation *
watch_conversation (PhConversation *conversation, Meeting *meeting)
{
  g_signal_connect (conversation, "notify::state", G_CALLBACK (conversation_state_cb), meeting);
  g_signal_connect (conversation, "message-received", G_CALLBACK (conversation_message_cb),
                    meeting);
  g_signal_connect (conversation, "message-delivered", G_CALLBACK (conversation_delivered_cb),
                    meeting);
  return conversation;
}

static PhConversation *
new_conversation (PhContactMeetings *self, Meeting *meeting)
{
  return watch_conversation (make_conversation (self), meeting);
}

/* Hosts a mailbox for the meeting and invites the peer at the point of
 * @key, or, for an eager host (NULL), once it knows the peer is there; an
 * eager host's chat is told of once it invites. */
static void
host (PhContactMeetings *self, Meeting *meeting, const char *key)
{
  drop_conversation (meeting);
  g_debug ("Hosting a meeting with %s", ph_contact_get_name (meeting->contact));
  meeting->conversation = new_conversation (self, meeting);
  meeting->invitation_key = g_strdup (key);
  g_signal_connect (meeting->conversation, "notify::code", G_CALLBACK (conversation_code_cb),
                    meeting);
  ph_conversation_host_contact (meeting->conversation, self->book, meeting->contact,
                                meeting_began (meeting));
  if (!meeting->eager)
    announce (self, meeting);
}

/* An eager host whose contact turned out not to be there (or whose
 * meeting failed) meets as everyone does from now on. */
static void
stop_being_eager (PhContactMeetings *self, Meeting *meeting)
{
  if (!meeting->eager)
    return;
  meeting->eager = FALSE;
  if (meeting->invited)
    return; /* the meeting is on */
  g_debug ("%s is away: meeting as everyone does", ph_contact_get_name (meeting->contact));
  drop_conversation (meeting);
  say_here (self, meeting);
}

static void
prepared_timeout_cb (gpointer user_data)
{
  Meeting *meeting = user_data;

  meeting->prepared_timeout_id = 0;
  drop_prepared (meeting);
}

/* An invitation that does not come within the patience of a wait is not
 * coming: the peer's first look found us away after all. */
static void
prepare_to_join (PhContactMeetings *self, Meeting *meeting)
{
  g_autoptr (GError) error = NULL;

  drop_prepared (meeting);
  meeting->prepared = make_conversation (self);
  if (!ph_conversation_prepare_contact (meeting->prepared, self->book, meeting->contact, &error))
    {
      g_debug ("Could not get ready for %s's meeting: %s", ph_contact_get_name (meeting->contact),
               error->message);
      drop_prepared (meeting);
      return;
    }
  meeting->prepared_timeout_id
      = g_timeout_add_once (PREPARED_PATIENCE_SECONDS * 1000, prepared_timeout_cb, meeting);
}

static void
join (PhContactMeetings *self, Meeting *meeting, const PhMeetingInvitation *invitation)
{
  g_autoptr (GError) error = NULL;

  drop_conversation (meeting);
  g_debug ("Joining %s's meeting", ph_contact_get_name (meeting->contact));
  g_clear_handle_id (&meeting->prepared_timeout_id, g_source_remove);
  meeting->conversation = meeting->prepared != NULL
                              ? watch_conversation (g_steal_pointer (&meeting->prepared), meeting)
                              : new_conversation (self, meeting);
  if (!ph_conversation_join_contact (meeting->conversation, self->book, meeting->contact,
                                     invitation->nameplate, invitation->pake_message,
                                     invitation->description, meeting_began (meeting), &error))
    {
      g_debug ("Could not join the meeting: %s", error->message);
      drop_conversation (meeting);
      return;
    }
  announce (self, meeting);
}

/* What a wait brought */

static Meeting *
find_point (PhContactMeetings *self, const char *id, guint *out_slot)
{
  for (guint i = 0; i < self->meetings->len; i++)
    {
      Meeting *meeting = g_ptr_array_index (self->meetings, i);

      for (guint slot = 0; slot < G_N_ELEMENTS (meeting->ids); slot++)
        if (g_str_equal (meeting->ids[slot], id))
          {
            *out_slot = slot;
            return meeting;
          }
    }
  return NULL;
}

/* Side 2 joins side 1's invitations, and side 1 joins those of a side 2
 * that came to write; when both came to write, side 1's mailbox wins. An
 * invitation names the session it answers: one for an earlier session
 * (ours in an earlier process, or before a failed try) is not ours. */
static void
consider_invitation (PhContactMeetings *self, Meeting *meeting, const char *key, guint64 index,
                     GBytes *sealed)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhMeetingInvitation) invitation = NULL;

  if (index <= meeting->answered_invitation
      || !(g_str_equal (meeting->side, "2") || (meeting->peer_invites && !meeting->eager)))
    return;
  invitation = ph_meeting_open_invitation (ph_contact_get_pair_secret (meeting->contact), key,
                                           sealed, &error);
  if (invitation == NULL)
    {
      g_debug ("%s", error->message);
      return;
    }
  if (!g_str_equal (invitation->session, meeting->session))
    return;
  meeting->answered_invitation = index;
  meeting->eager = FALSE;
  join (self, meeting, invitation);
}

/* A `bye` carries the session that leaves: one of an older session (a
 * process that stopped while a new one already said `here`, its posts
 * crossing) does not end the newer. */
static gboolean
is_bye_of (const PhMailboxMessage *bye, const char *session)
{
  gsize size;
  const char *data = g_bytes_get_data (bye->body, &size);

  return session != NULL && size == strlen (session) && memcmp (data, session, size) == 0;
}

/* A `here`'s session, and whether that side says it invites. */
static char *
here_session (const PhMailboxMessage *here, gboolean *out_invites)
{
  gsize size;
  const char *data = g_bytes_get_data (here->body, &size);
  g_autofree char *text = g_strndup (data, size);
  char *space = strchr (text, ' ');

  *out_invites = space != NULL && g_str_equal (space + 1, HERE_INVITES);
  if (space != NULL)
    *space = '\0';
  return g_steal_pointer (&text);
}

/* Only the latest `here` and invitation of a wait's answer count: older
 * ones were overtaken. */
static void
read_news (PhContactMeetings *self, const PhMeetingPointNews *news, gint64 arrived_us)
{
  const PhMailboxMessage *invitation = NULL;
  g_autofree char *session = NULL;
  gboolean invites = FALSE;
  guint slot = 0;
  Meeting *meeting = find_point (self, news->id, &slot);
  const char *key;

  if (meeting == NULL)
    return;
  key = meeting->keys[slot];
  for (guint i = 0; i < news->messages->len; i++)
    {
      const PhMailboxMessage *message = g_ptr_array_index (news->messages, i);

      meeting->after[slot] = MAX (meeting->after[slot], message->index);
      if (g_str_equal (message->phase, "here"))
        {
          g_free (session);
          session = here_session (message, &invites);
          meeting->peer_said_bye = FALSE;
        }
      else if (g_str_equal (message->phase, "bye")
               && is_bye_of (message, session != NULL ? session : meeting->peer_session))
        meeting->peer_said_bye = TRUE;
      else if (g_str_equal (message->phase, "auth"))
        invitation = message;
    }

  if (session != NULL)
    {
      gboolean is_new = g_strcmp0 (session, meeting->peer_session) != 0;
      /* A peer that said it would invite and then did not: its contact
       * was away at its first look, and it meets as everyone does now. */
      gboolean stopped_inviting = meeting->peer_invites && !invites;

      meeting->peer_seen_us = g_get_monotonic_time ();
      meeting->peer_invites = invites;
      if (is_new)
        {
          g_free (meeting->peer_session);
          meeting->peer_session = g_steal_pointer (&session);
          meeting->peer_arrived_us = arrived_us;
        }
      /* A session that said bye since is over: no mailbox for it. */
      if ((is_new || stopped_inviting) && !meeting->peer_said_bye && self->look_task == NULL)
        {
          if (meeting->eager && meeting->conversation != NULL)
            {
              /* Our mailbox is ready or on its way: the invitation goes
               * where the peer is. */
              g_free (meeting->invitation_key);
              meeting->invitation_key = g_strdup (key);
              post_invitation (meeting);
            }
          else if (g_str_equal (meeting->side, "1") && !invites)
            host (self, meeting, key);
          if (invites && meeting->conversation == NULL)
            prepare_to_join (self, meeting);
        }
      if (stopped_inviting || meeting->peer_said_bye)
        drop_prepared (meeting);
    }
  set_online (meeting, !meeting->peer_said_bye && meeting->peer_seen_us != 0);
  if (self->look_task != NULL)
    return;
  if (news->n_stored > 0 && self->mail != NULL)
    ph_sealed_mail_collect (self->mail, meeting->contact, key, meeting->side);

  if (invitation != NULL)
    consider_invitation (self, meeting, key, invitation->index, invitation->body);
}

/* One long-poll for the contacts from @first on. */
typedef struct
{
  PhContactMeetings *self; /* a reference */
  guint first;
  guint generation;
  /* A first look tells who was there when it was asked, a held wait who
   * came when it answers. */
  gint64 asked_us;
  gboolean first_look;
} Wait;

static void wait_for_contacts (PhContactMeetings *self, guint first, guint wait_seconds);

/* Every wait anew, at once (the set of contacts changed) or after a
 * failure. */
static void
restart_waits (PhContactMeetings *self, guint wait_seconds)
{
  g_cancellable_cancel (self->cancellable);
  g_object_unref (self->cancellable);
  self->cancellable = g_cancellable_new ();
  self->wait_generation++;
  g_clear_handle_id (&self->wait_retry_id, g_source_remove);
  wait_at_points (self, wait_seconds);
}

static void
wait_retry_cb (gpointer user_data)
{
  PhContactMeetings *self = user_data;

  self->wait_retry_id = 0;
  restart_waits (self, WAIT_SECONDS);
}

/* The first look at a contact's points (at the start, or once the
 * contact was saved) is told even when they are offline. */
static void
tell_first_looks (PhContactMeetings *self, guint first)
{
  for (guint i = first; i < MIN (first + CONTACTS_PER_WAIT, self->meetings->len); i++)
    {
      Meeting *meeting = g_ptr_array_index (self->meetings, i);

      if (meeting->looked)
        continue;
      meeting->looked = TRUE;
      g_signal_emit (self, signals[SIGNAL_PRESENCE_CHANGED], 0, meeting->contact);
    }
}

/* After the first look: an eager host whose contact is away does not
 * invite. */
static void
give_up_eagerness (PhContactMeetings *self, guint first)
{
  for (guint i = first; i < MIN (first + CONTACTS_PER_WAIT, self->meetings->len); i++)
    {
      Meeting *meeting = g_ptr_array_index (self->meetings, i);

      if (meeting->eager && !meeting->online)
        stop_being_eager (self, meeting);
    }
}

static void
looked_once (PhContactMeetings *self, GError *error)
{
  g_autoptr (GTask) task = NULL;

  if (error != NULL && self->look_error == NULL)
    self->look_error = g_error_copy (error);
  if (--self->looks_pending > 0)
    return;
  task = g_steal_pointer (&self->look_task);
  if (self->look_error != NULL)
    g_task_return_error (task, g_steal_pointer (&self->look_error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
waited_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree Wait *wait = user_data;
  g_autoptr (PhContactMeetings) self = wait->self;
  g_autoptr (GPtrArray) news = NULL;
  g_autoptr (GError) error = NULL;

  news = ph_rendezvous_client_meet_wait_finish (PH_RENDEZVOUS_CLIENT (source), result, &error);
  for (guint i = 0; news != NULL && i < news->len; i++)
    read_news (self, g_ptr_array_index (news, i),
               wait->first_look ? wait->asked_us : g_get_monotonic_time ());
  if (news != NULL && wait->first_look && self->look_task == NULL)
    give_up_eagerness (self, wait->first);
  if (news != NULL)
    tell_first_looks (self, wait->first);
  if (self->look_task != NULL)
    {
      looked_once (self, error);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->leaving
      || wait->generation != self->wait_generation)
    return;
  if (news == NULL)
    {
      g_debug ("Waiting at the meeting points failed: %s", error->message);
      self->wait_generation++;
      g_cancellable_cancel (self->cancellable);
      self->wait_retry_id = g_timeout_add_once (RETRY_SECONDS * 1000, wait_retry_cb, self);
      return;
    }
  wait_for_contacts (self, wait->first, WAIT_SECONDS);
}

static void
wait_for_contacts (PhContactMeetings *self, guint first, guint wait_seconds)
{
  guint end = MIN (first + CONTACTS_PER_WAIT, self->meetings->len);
  g_autofree PhMeetingPointCursor *cursors = g_new0 (PhMeetingPointCursor, 2 * (end - first) + 1);
  Wait *wait = g_new0 (Wait, 1);
  guint n = 0;

  for (guint i = first; i < end; i++)
    {
      Meeting *meeting = g_ptr_array_index (self->meetings, i);

      update_points (meeting);
      for (guint slot = 0; slot < G_N_ELEMENTS (meeting->keys); slot++)
        cursors[n++]
            = (PhMeetingPointCursor){ meeting->keys[slot], meeting->side, meeting->after[slot] };
    }
  wait->self = g_object_ref (self);
  wait->first = first;
  wait->generation = self->wait_generation;
  wait->asked_us = g_get_monotonic_time ();
  wait->first_look = wait_seconds == 0;
  ph_rendezvous_client_meet_wait_async (self->client, cursors, n, wait_seconds, self->cancellable,
                                        waited_cb, wait);
}

/* All contacts' points, in as few waits as the server takes. */
static void
wait_at_points (PhContactMeetings *self, guint wait_seconds)
{
  for (guint first = 0; first < self->meetings->len; first += CONTACTS_PER_WAIT)
    wait_for_contacts (self, first, wait_seconds);
}

/* The number of waits wait_at_points() makes. */
static guint
count_waits (PhContactMeetings *self)
{
  return (self->meetings->len + CONTACTS_PER_WAIT - 1) / CONTACTS_PER_WAIT;
}

/* The points of the days before yesterday, once: copies left there while
 * this profile was away. */

static void
old_points_looked_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhContactMeetings) self = user_data;
  g_autoptr (GPtrArray) news = NULL;
  g_autoptr (GError) error = NULL;

  news = ph_rendezvous_client_meet_wait_finish (PH_RENDEZVOUS_CLIENT (source), result, &error);
  if (news == NULL)
    {
      g_debug ("Looking for older stored copies failed: %s", error->message);
      return;
    }
  if (self->mail == NULL || self->leaving)
    return;
  for (guint i = 0; i < news->len; i++)
    {
      const PhMeetingPointNews *point_news = g_ptr_array_index (news, i);

      for (guint j = 0; j < self->old_points->len; j++)
        {
          OldPoint *point = g_ptr_array_index (self->old_points, j);

          if (point_news->n_stored > 0 && g_str_equal (point->id, point_news->id))
            ph_sealed_mail_collect (self->mail, point->meeting->contact, point->key,
                                    point->meeting->side);
        }
    }
}

/* It answers at once, and is not cancelled with the waits when they
 * start over. */
static void
look_at_old_points (PhContactMeetings *self)
{
  gint64 today = ph_meeting_day_now ();
  g_autofree PhMeetingPointCursor *cursors = NULL;

  for (guint i = 0; i < self->meetings->len; i++)
    {
      Meeting *meeting = g_ptr_array_index (self->meetings, i);

      for (gint64 day = today - STORED_DAYS; day < today - 1; day++)
        {
          OldPoint *point = g_new0 (OldPoint, 1);

          point->meeting = meeting;
          point->key = ph_meeting_point_key (ph_contact_get_pair_secret (meeting->contact), day);
          ph_meeting_point_id_from_key (point->key, point->id);
          g_ptr_array_add (self->old_points, point);
        }
    }
  cursors = g_new0 (PhMeetingPointCursor, MAX (self->old_points->len, 1));
  for (guint i = 0; i < self->old_points->len; i++)
    {
      OldPoint *point = g_ptr_array_index (self->old_points, i);

      cursors[i] = (PhMeetingPointCursor){ point->key, point->meeting->side, 0 };
    }
  for (guint first = 0; first < self->old_points->len; first += PH_MEETING_POINT_MAX_WAIT)
    ph_rendezvous_client_meet_wait_async (
        self->client, cursors + first,
        MIN (PH_MEETING_POINT_MAX_WAIT, self->old_points->len - first), 0, NULL,
        old_points_looked_cb, g_object_ref (self));
}

static gboolean
here_timer_cb (gpointer user_data)
{
  PhContactMeetings *self = user_data;

  for (guint i = 0; i < self->meetings->len; i++)
    say_here (self, g_ptr_array_index (self->meetings, i));
  return G_SOURCE_CONTINUE;
}

static gboolean
presence_timer_cb (gpointer user_data)
{
  PhContactMeetings *self = user_data;
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < self->meetings->len; i++)
    {
      Meeting *meeting = g_ptr_array_index (self->meetings, i);
      gboolean connected
          = meeting->conversation != NULL
            && ph_conversation_get_state (meeting->conversation) == PH_CONVERSATION_STATE_CONNECTED;

      if (!connected && meeting->peer_seen_us != 0
          && now - meeting->peer_seen_us > PRESENCE_SECONDS * G_USEC_PER_SEC)
        set_online (meeting, FALSE);
    }
  return G_SOURCE_CONTINUE;
}

/* API */

PhContactMeetings *
ph_contact_meetings_new (const char *rendezvous_url, PhContactBook *book, const char *own_name,
                         const PhIceConfig *ice_config, gboolean use_server_turn)
{
  PhContactMeetings *self;

  g_return_val_if_fail (rendezvous_url != NULL, NULL);
  g_return_val_if_fail (PH_IS_CONTACT_BOOK (book), NULL);

  self = g_object_new (PH_TYPE_CONTACT_MEETINGS, NULL);
  self->rendezvous_url = g_strdup (rendezvous_url);
  self->book = g_object_ref (book);
  self->own_name = g_strdup (own_name);
  self->ice_config = ph_ice_config_copy (ice_config);
  self->use_server_turn = use_server_turn;
  return self;
}

static void
start_mail (PhContactMeetings *self)
{
  g_autoptr (GError) error = NULL;
  PhRatchet *ratchet = ph_contact_book_get_ratchet (self->book, &error);

  if (ratchet == NULL)
    {
      g_warning ("Messages cannot wait for offline contacts: %s", error->message);
      return;
    }
  self->mail = ph_sealed_mail_new (self->client, ratchet);
  g_signal_connect (self->mail, "message-received", G_CALLBACK (copy_message_cb), self);
  g_signal_connect (self->mail, "message-delivered", G_CALLBACK (copy_delivered_cb), self);
}

static Meeting *
add_meeting (PhContactMeetings *self, PhContact *contact)
{
  Meeting *meeting = g_new0 (Meeting, 1);
  GBytes *own_key = ph_identity_get_public_key (ph_contact_book_get_identity (self->book));

  meeting->self = self;
  meeting->contact = g_object_ref (contact);
  meeting->side = ph_meeting_side (own_key, ph_contact_get_public_key (contact));
  new_session (meeting);
  update_points (meeting);
  g_ptr_array_add (self->meetings, meeting);
  return meeting;
}

static gboolean
book_has (PhContactBook *book, PhContact *contact)
{
  GListModel *contacts = G_LIST_MODEL (book);

  for (guint i = 0; i < g_list_model_get_n_items (contacts); i++)
    {
      g_autoptr (PhContact) listed = g_list_model_get_item (contacts, i);

      if (ph_contact_equal (listed, contact))
        return TRUE;
    }
  return FALSE;
}

static void
forget_old_points (PhContactMeetings *self, Meeting *meeting)
{
  for (guint i = self->old_points->len; i-- > 0;)
    if (((OldPoint *)g_ptr_array_index (self->old_points, i))->meeting == meeting)
      g_ptr_array_remove_index (self->old_points, i);
}

/* Contacts saved or removed while the meetings run (the app): a new one
 * is met from now on, a removed one no longer. */
static void
book_changed_cb (GListModel *book, guint position, guint removed, guint added,
                 PhContactMeetings *self)
{
  gboolean changed = FALSE;

  if (self->leaving)
    return;
  for (guint i = self->meetings->len; i-- > 0;)
    {
      Meeting *meeting = g_ptr_array_index (self->meetings, i);

      if (book_has (self->book, meeting->contact))
        continue;
      g_debug ("No longer meeting %s", ph_contact_get_name (meeting->contact));
      forget_old_points (self, meeting);
      g_ptr_array_remove_index (self->meetings, i);
      changed = TRUE;
    }
  for (guint i = 0; i < g_list_model_get_n_items (book); i++)
    {
      g_autoptr (PhContact) contact = g_list_model_get_item (book, i);

      if (find_contact (self, contact) != NULL)
        continue;
      add_meeting (self, contact);
      say_here (self, g_ptr_array_index (self->meetings, self->meetings->len - 1));
      changed = TRUE;
    }
  /* The waits in flight name the old set of points. */
  if (changed)
    restart_waits (self, 0);
}

void
ph_contact_meetings_start (PhContactMeetings *self, PhContact *only)
{
  g_autoptr (GError) error = NULL;

  g_return_if_fail (PH_IS_CONTACT_MEETINGS (self));
  g_return_if_fail (!self->started);

  self->started = TRUE;
  self->client = ph_rendezvous_client_new (self->rendezvous_url, &error);
  if (self->client == NULL)
    {
      g_warning ("Cannot meet contacts: %s", error->message);
      return;
    }
  start_mail (self);
  if (only != NULL)
    {
      /* Who comes to write hosts at once, while it looks. */
      Meeting *meeting = add_meeting (self, only);

      meeting->eager = TRUE;
      host (self, meeting, NULL);
    }
  else
    {
      for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->book)); i++)
        {
          g_autoptr (PhContact) contact = g_list_model_get_item (G_LIST_MODEL (self->book), i);

          add_meeting (self, contact);
        }
      g_signal_connect_object (self->book, "items-changed", G_CALLBACK (book_changed_cb), self, 0);
    }

  here_timer_cb (self);
  self->here_timer_id = g_timeout_add_seconds (HERE_EVERY_SECONDS, here_timer_cb, self);
  self->presence_timer_id = g_timeout_add_seconds (60, presence_timer_cb, self);
  /* The first look answers at once: who is there now. */
  wait_at_points (self, 0);
  if (self->mail != NULL)
    look_at_old_points (self);
}

void
ph_contact_meetings_look_async (PhContactMeetings *self, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (PH_IS_CONTACT_MEETINGS (self));
  g_return_if_fail (!self->started);

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, ph_contact_meetings_look_async);
  self->started = TRUE;
  self->client = ph_rendezvous_client_new (self->rendezvous_url, &error);
  if (self->client == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->book)); i++)
    {
      g_autoptr (PhContact) contact = g_list_model_get_item (G_LIST_MODEL (self->book), i);

      add_meeting (self, contact);
    }
  if (self->meetings->len == 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  self->look_task = g_steal_pointer (&task);
  self->looks_pending = count_waits (self);
  wait_at_points (self, 0);
}

gboolean
ph_contact_meetings_look_finish (PhContactMeetings *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static Meeting *
find_contact (PhContactMeetings *self, PhContact *contact)
{
  for (guint i = 0; i < self->meetings->len; i++)
    {
      Meeting *meeting = g_ptr_array_index (self->meetings, i);

      if (ph_contact_equal (meeting->contact, contact))
        return meeting;
    }
  return NULL;
}

gboolean
ph_contact_meetings_is_online (PhContactMeetings *self, PhContact *contact)
{
  Meeting *meeting;

  g_return_val_if_fail (PH_IS_CONTACT_MEETINGS (self), FALSE);

  meeting = find_contact (self, contact);
  return meeting != NULL && meeting->online;
}

PhConversation *
ph_contact_meetings_get_conversation (PhContactMeetings *self, PhContact *contact)
{
  Meeting *meeting;

  g_return_val_if_fail (PH_IS_CONTACT_MEETINGS (self), NULL);

  meeting = find_contact (self, contact);
  return meeting != NULL ? meeting->conversation : NULL;
}

gboolean
ph_contact_meetings_can_leave_copy (PhContactMeetings *self, PhContact *contact)
{
  g_return_val_if_fail (PH_IS_CONTACT_MEETINGS (self), FALSE);

  return self->mail != NULL && find_contact (self, contact) != NULL
         && ph_sealed_mail_can_seal (self->mail, contact);
}

static void
copy_left_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (ph_sealed_mail_leave_finish (PH_SEALED_MAIL (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
ph_contact_meetings_leave_copy_async (PhContactMeetings *self, PhContact *contact, const char *id,
                                      gint64 time_ms, const char *text,
                                      GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  Meeting *meeting;

  g_return_if_fail (PH_IS_CONTACT_MEETINGS (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, ph_contact_meetings_leave_copy_async);
  meeting = find_contact (self, contact);
  if (self->mail == NULL || meeting == NULL)
    {
      g_task_return_new_error (task, PH_ERROR, PH_ERROR_FAILED,
                               "Messages cannot wait on the server for %s.",
                               ph_contact_get_name (contact));
      return;
    }
  update_points (meeting);
  ph_sealed_mail_leave_async (self->mail, contact, meeting->keys[0], meeting->side, id, time_ms,
                              text, NULL, copy_left_cb, g_steal_pointer (&task));
}

gboolean
ph_contact_meetings_leave_copy_finish (PhContactMeetings *self, GAsyncResult *result,
                                       GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
ph_contact_meetings_leave_async (PhContactMeetings *self, GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (PH_IS_CONTACT_MEETINGS (self));
  g_return_if_fail (self->leave_task == NULL);

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, ph_contact_meetings_leave_async);
  self->leaving = TRUE;
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->wait_retry_id, g_source_remove);
  g_clear_handle_id (&self->here_timer_id, g_source_remove);
  if (self->client == NULL || self->meetings->len == 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  self->leave_task = g_steal_pointer (&task);
  self->byes_pending = self->meetings->len;
  for (guint i = 0; i < self->meetings->len; i++)
    {
      Meeting *meeting = g_ptr_array_index (self->meetings, i);
      g_autoptr (GBytes) body = g_bytes_new (meeting->session, strlen (meeting->session));

      post_at (self, meeting, meeting->keys[0], "bye", body);
    }
}

void
ph_contact_meetings_leave_finish (PhContactMeetings *self, GAsyncResult *result)
{
  g_return_if_fail (g_task_is_valid (result, self));

  g_task_propagate_boolean (G_TASK (result), NULL);
}

static void
ph_contact_meetings_dispose (GObject *object)
{
  PhContactMeetings *self = PH_CONTACT_MEETINGS (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->wait_retry_id, g_source_remove);
  g_clear_handle_id (&self->here_timer_id, g_source_remove);
  g_clear_handle_id (&self->presence_timer_id, g_source_remove);
  g_clear_handle_id (&self->leave_timeout_id, g_source_remove);
  if (self->old_points != NULL)
    g_ptr_array_set_size (self->old_points, 0);
  if (self->meetings != NULL)
    g_ptr_array_set_size (self->meetings, 0);
  g_clear_object (&self->mail);

  G_OBJECT_CLASS (ph_contact_meetings_parent_class)->dispose (object);
}

static void
ph_contact_meetings_finalize (GObject *object)
{
  PhContactMeetings *self = PH_CONTACT_MEETINGS (object);

  g_clear_pointer (&self->old_points, g_ptr_array_unref);
  g_clear_pointer (&self->meetings, g_ptr_array_unref);
  g_clear_object (&self->cancellable);
  g_clear_error (&self->look_error);
  g_clear_object (&self->client);
  g_clear_object (&self->book);
  g_clear_pointer (&self->ice_config, ph_ice_config_free);
  g_free (self->rendezvous_url);
  g_free (self->own_name);

  G_OBJECT_CLASS (ph_contact_meetings_parent_class)->finalize (object);
}

static void
ph_contact_meetings_class_init (PhContactMeetingsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ph_contact_meetings_dispose;
  object_class->finalize = ph_contact_meetings_finalize;

  signals[SIGNAL_CONVERSATION_STARTED]
      = g_signal_new ("conversation-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 2, PH_TYPE_CONTACT, PH_TYPE_CONVERSATION);
  signals[SIGNAL_PRESENCE_CHANGED]
      = g_signal_new ("presence-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 1, PH_TYPE_CONTACT);
  signals[SIGNAL_MESSAGE_RECEIVED] = g_signal_new (
      "message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 4, PH_TYPE_CONTACT, G_TYPE_STRING, G_TYPE_INT64, G_TYPE_STRING);
  signals[SIGNAL_MESSAGE_DELIVERED]
      = g_signal_new ("message-delivered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 2, PH_TYPE_CONTACT, G_TYPE_STRING);
}

static void
ph_contact_meetings_init (PhContactMeetings *self)
{
  self->meetings = g_ptr_array_new_with_free_func ((GDestroyNotify)meeting_free);
  self->old_points = g_ptr_array_new_with_free_func ((GDestroyNotify)old_point_free);
  self->cancellable = g_cancellable_new ();
}
