/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "ph-error.h"
#include "ph-mailbox-session.h"

G_BEGIN_DECLS

/* PhMailboxSession lives in three files, one job each:
 * ph-mailbox-session.c (the object, joining, posting, leaving, retry pacing),
 * ph-mailbox-session-poll.c (the long-poll and what it brings),
 * ph-mailbox-session-reentry.c (getting back into a lost mailbox). */

typedef struct
{
  char *phase;
  GBytes *body;
  gboolean again; /* posted before: goes again alone, as it went */
} PhMailboxPost;

struct _PhMailboxSession
{
  GObject parent_instance;

  PhRendezvousClient *client;
  GCancellable *cancellable;      /* polls, allocation and claims */
  GCancellable *poll_cancellable; /* the poll in flight, child of cancellable */
  gulong poll_cancel_id;
  guint poll_generation; /* an answer to an older poll is dropped */
  guint requests;        /* in flight, each holding a reference */
  GTask *leave_task;
  gboolean deleting; /* the DELETE is in flight or done */

  char *side;
  char *nameplate;
  char *peer_side;

  GQueue outgoing;        /* of PhMailboxPost */
  PhMailboxPost *posting; /* in flight, kept to post again */
  guint post_generation;  /* an answer to an older post is dropped */
  guint post_retry_id;
  guint flush_id; /* queued posts go out once the dispatch that queued them is over */
  guint poll_retry_id;
  guint poll_delay_ms;
  gboolean resilient;
  guint64 last_index;

  /* Until resilient, everything posted, as posted, so that it can go again
   * into the mailbox a restarted server opens anew; and everything the
   * peer posted, to know its copies when it does the same. */
  GPtrArray *posted;    /* of PhMailboxPost */
  GPtrArray *delivered; /* of PhMailboxPost */
  gboolean is_host;
  gboolean reentering; /* our mailbox is gone: claiming it (host) or finding it again */
  gboolean reentered;  /* copies of what already arrived may come again */
  guint reenter_id;
  guint allocate_retry_id;
  gboolean server_was_unreachable;
  gint64 trouble_since;   /* the first failure in a row, or 0 */
  gboolean trouble_shown; /* "server-trouble" said TRUE last */
  guint backoff_ms;
  guint patience_seconds;

  gboolean joining;           /* the joiner's join is in flight */
  gboolean joining_with_post; /* and it carries `posting` */
  gboolean joined;            /* our side is in the mailbox */
  gboolean finished;          /* stopped: no more signals */
};

/* A post or a poll, and which of them it was: answers to older ones are
 * dropped. */
typedef struct
{
  PhMailboxSession *self;
  guint generation;
} PhMailboxRequest;

static inline gboolean
ph_mailbox_session_is_unreachable (const GError *error)
{
  return g_error_matches (error, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE);
}

/* 404, or 412 when the number is open again under another tag. */
static inline gboolean
ph_mailbox_session_is_mailbox_gone (const GError *error)
{
  return g_error_matches (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
}

/* ph-mailbox-session.c */
PhMailboxPost *ph_mailbox_post_new (const char *phase, GBytes *body);
void ph_mailbox_post_free (PhMailboxPost *post);
gboolean ph_mailbox_post_equal (const PhMailboxPost *post, const PhMailboxMessage *message);
/* Every request holds a reference and counts until its answer has come,
 * so that leaving finishes only once no answer is still to come. */
PhMailboxSession *ph_mailbox_session_request_begin (PhMailboxSession *self);
PhMailboxRequest *ph_mailbox_request_new (PhMailboxSession *self, guint generation);
/* The answer came: uncounts it (the caller still holds the reference). */
void ph_mailbox_session_request_answered (PhMailboxSession *self);
void ph_mailbox_session_maybe_finish_leave (PhMailboxSession *self);
void ph_mailbox_session_fail (PhMailboxSession *self, const GError *error);
guint ph_mailbox_session_next_retry_ms (PhMailboxSession *self);
gboolean ph_mailbox_session_patience_left (PhMailboxSession *self);
void ph_mailbox_session_trouble_over (PhMailboxSession *self);
void ph_mailbox_session_post_next (PhMailboxSession *self);
void ph_mailbox_session_join_mailbox (PhMailboxSession *self);
void ph_mailbox_session_report_message (PhMailboxSession *self, const PhMailboxMessage *message);

/* ph-mailbox-session-poll.c */
void ph_mailbox_session_poll (PhMailboxSession *self);
/* Drops the poll in flight or waiting, without asking again. */
void ph_mailbox_session_drop_poll (PhMailboxSession *self);

/* ph-mailbox-session-reentry.c */
gboolean ph_mailbox_session_can_reenter (PhMailboxSession *self);
void ph_mailbox_session_lose_mailbox (PhMailboxSession *self);
void ph_mailbox_session_fail_mailbox_lost (PhMailboxSession *self);
/* Claims (host) or joins (joiner) again in @delay_ms. */
void ph_mailbox_session_enter_later (PhMailboxSession *self, guint delay_ms);
gboolean ph_mailbox_session_is_copy (PhMailboxSession *self, const PhMailboxMessage *message);

/* Emits "seated": this side holds its seat (again). */
void ph_mailbox_session_seated (PhMailboxSession *self);

G_END_DECLS
