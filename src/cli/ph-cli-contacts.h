/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "ph-contact-book.h"

G_BEGIN_DECLS

/* The profile's contact book, made with its identity when there is none;
 * for `host`/`join --save-contact`. */
PhContactBook *ph_cli_open_contact_book (const char *profile, GError **error);

/* `contacts`, `verify CONTACT`, `rename CONTACT NAME`, `remove CONTACT`:
 * @args is the command and its arguments; `contacts` asks the rendezvous
 * server at @rendezvous who is online. Returns the exit status. */
int ph_cli_run_contacts (const char *const *args, const char *profile, const char *rendezvous,
                         gboolean json);

G_END_DECLS
