/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-join-page"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "ph-code.h"
#include "ph-join-page.h"

#define MAX_SUGGESTIONS 5

struct _PhJoinPage
{
  GtkWidget parent_instance;

  GtkEntry *code_entry;
  GtkRevealer *error_revealer;
  GtkLabel *error_label;
  GtkBox *suggestions_box;
  GtkWidget *join_button;

  char *canonical; /* the code as typed, once it parses */
  char *error;     /* the error shown, or NULL */
};

G_DEFINE_FINAL_TYPE (PhJoinPage, ph_join_page, GTK_TYPE_WIDGET)

enum
{
  SIGNAL_JOIN,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* What was typed, split into nameplate and words the way ph_code_parse
 * reads it: spaces and dashes separate, case does not matter. */
static GStrv
split_code (const char *text)
{
  g_autofree char *lower = g_utf8_strdown (text, -1);

  return g_regex_split_simple ("[\\s-]+", g_strchug (lower), 0, 0);
}

static gboolean
is_nameplate_prefix (const char *part)
{
  gsize length = strlen (part);

  if (length > PH_CODE_MAX_NAMEPLATE_DIGITS || part[0] == '0')
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isdigit (part[i]))
      return FALSE;
  return TRUE;
}

/* TRUE while more typing can still turn @parts into a valid code, so a
 * half-typed code is not met with an error. */
static gboolean
could_become_valid (GStrv parts)
{
  guint n_parts = g_strv_length (parts);

  if (n_parts > 3 || (n_parts > 0 && !is_nameplate_prefix (parts[0])))
    return FALSE;

  for (guint i = 1; i < n_parts; i++)
    {
      g_auto (GStrv) words = ph_code_complete (i - 1, parts[i]);

      if (words[0] == NULL)
        return FALSE;
    }
  return TRUE;
}

/* A half-typed code that can no longer become valid fails ph_code_parse
 * for being short, which is not the news: parse it with the missing words
 * filled in to learn what is wrong with what was typed. */
static GError *
explain_dead_end (GStrv parts)
{
  const char *filler[] = { "1", ph_code_get_first_words ()[0], ph_code_get_second_words ()[0] };
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) probe_parts = NULL;
  g_autofree char *probe = NULL;
  GError *error = NULL;
  guint n_parts = g_strv_length (parts);

  if (n_parts >= 3)
    return NULL;
  for (guint i = 0; i < 3; i++)
    g_strv_builder_add (builder, i < n_parts && parts[i][0] != '\0' ? parts[i] : filler[i]);
  probe_parts = g_strv_builder_end (builder);
  probe = g_strjoinv ("-", probe_parts);
  ph_code_parse (probe, NULL, NULL, &error);
  return error;
}

/* @markup, when given, is @message dressed up for the label. */
static void
show_error_full (PhJoinPage *self, const char *message, const char *markup)
{
  g_free (self->error);
  self->error = g_strdup (message);

  if (message != NULL)
    {
      if (markup != NULL)
        gtk_label_set_markup (self->error_label, markup);
      else
        gtk_label_set_text (self->error_label, message);
      gtk_widget_add_css_class (GTK_WIDGET (self->code_entry), "error");
    }
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->code_entry), "error");
  gtk_revealer_set_reveal_child (self->error_revealer, message != NULL);
}

static void
show_error (PhJoinPage *self, const char *message)
{
  show_error_full (self, message, NULL);
}

static void
suggestion_clicked_cb (PhJoinPage *self, GtkButton *button)
{
  const char *word = gtk_button_get_label (button);
  g_auto (GStrv) parts = split_code (gtk_editable_get_text (GTK_EDITABLE (self->code_entry)));
  guint n_parts = g_strv_length (parts);
  g_autofree char *text = NULL;

  g_assert (n_parts >= 2);

  g_free (parts[n_parts - 1]);
  parts[n_parts - 1] = g_strdup (word);
  text = g_strjoinv ("-", parts);
  /* After the first word the person types the second: save them the dash. */
  if (n_parts == 2)
    {
      g_autofree char *with_dash = g_strconcat (text, "-", NULL);

      g_free (text);
      text = g_steal_pointer (&with_dash);
    }

  gtk_editable_set_text (GTK_EDITABLE (self->code_entry), text);
  gtk_widget_grab_focus (GTK_WIDGET (self->code_entry));
  gtk_editable_set_position (GTK_EDITABLE (self->code_entry), -1);
}

static void
update_suggestions (PhJoinPage *self, GStrv parts)
{
  guint n_parts = g_strv_length (parts);
  GtkWidget *child;
  g_auto (GStrv) words = NULL;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->suggestions_box))) != NULL)
    gtk_box_remove (self->suggestions_box, child);

  if (n_parts < 2 || n_parts > 3 || parts[n_parts - 1][0] == '\0')
    return;

  words = ph_code_complete (n_parts - 2, parts[n_parts - 1]);
  /* A word typed in full needs no suggestion. */
  if (words[0] != NULL && words[1] == NULL && g_str_equal (words[0], parts[n_parts - 1]))
    return;

  for (guint i = 0; words[i] != NULL && i < MAX_SUGGESTIONS; i++)
    {
      GtkWidget *button = gtk_button_new_with_label (words[i]);

      gtk_widget_add_css_class (button, "pill");
      gtk_widget_add_css_class (button, "small");
      gtk_widget_add_css_class (button, "monospace");
      gtk_widget_set_tooltip_text (button, _ ("Complete the word"));
      g_signal_connect_swapped (button, "clicked", G_CALLBACK (suggestion_clicked_cb), self);
      gtk_box_append (self->suggestions_box, button);
    }
}

static void
code_changed_cb (PhJoinPage *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->code_entry));
  g_auto (GStrv) parts = split_code (text);
  g_autoptr (GError) error = NULL;
  g_autofree char *canonical = NULL;

  update_suggestions (self, parts);

  g_clear_pointer (&self->canonical, g_free);
  if (ph_code_parse (text, NULL, &canonical, &error))
    {
      self->canonical = g_steal_pointer (&canonical);
      show_error (self, NULL);
    }
  else if (could_become_valid (parts))
    show_error (self, NULL);
  else
    {
      g_autoptr (GError) specific = explain_dead_end (parts);

      show_error (self, specific != NULL ? specific->message : error->message);
    }

  gtk_widget_set_sensitive (self->join_button, self->canonical != NULL);
}

static void
join_clicked_cb (PhJoinPage *self)
{
  g_autoptr (GError) error = NULL;
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->code_entry));

  if (self->canonical == NULL)
    {
      /* Enter on a half-typed code: now say what is missing. */
      ph_code_parse (text, NULL, NULL, &error);
      show_error (self, error->message);
      return;
    }

  g_signal_emit (self, signals[SIGNAL_JOIN], 0, self->canonical);
}

static void
code_activate_cb (PhJoinPage *self)
{
  join_clicked_cb (self);
}

static gboolean
ph_join_page_grab_focus (GtkWidget *widget)
{
  PhJoinPage *self = PH_JOIN_PAGE (widget);

  return gtk_widget_grab_focus (GTK_WIDGET (self->code_entry));
}

static void
ph_join_page_dispose (GObject *object)
{
  GtkWidget *child;

  gtk_widget_dispose_template (GTK_WIDGET (object), PH_TYPE_JOIN_PAGE);
  /* The template's top widget has no id, so it is unparented by hand. */
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (object))) != NULL)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (ph_join_page_parent_class)->dispose (object);
}

static void
ph_join_page_finalize (GObject *object)
{
  PhJoinPage *self = PH_JOIN_PAGE (object);

  g_free (self->canonical);
  g_free (self->error);

  G_OBJECT_CLASS (ph_join_page_parent_class)->finalize (object);
}

static void
ph_join_page_class_init (PhJoinPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ph_join_page_dispose;
  object_class->finalize = ph_join_page_finalize;
  widget_class->grab_focus = ph_join_page_grab_focus;

  signals[SIGNAL_JOIN] = g_signal_new ("join", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                       NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/pinhole/Pinhole/ph-join-page.ui");
  gtk_widget_class_bind_template_child (widget_class, PhJoinPage, code_entry);
  gtk_widget_class_bind_template_child (widget_class, PhJoinPage, error_revealer);
  gtk_widget_class_bind_template_child (widget_class, PhJoinPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, PhJoinPage, suggestions_box);
  gtk_widget_class_bind_template_child (widget_class, PhJoinPage, join_button);
  gtk_widget_class_bind_template_callback (widget_class, code_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, code_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, join_clicked_cb);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
ph_join_page_init (PhJoinPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
ph_join_page_new (void)
{
  return g_object_new (PH_TYPE_JOIN_PAGE, NULL);
}

void
ph_join_page_reset (PhJoinPage *self)
{
  g_return_if_fail (PH_IS_JOIN_PAGE (self));

  gtk_editable_set_text (GTK_EDITABLE (self->code_entry), "");
  show_error (self, NULL);
}

void
ph_join_page_show_refusal (PhJoinPage *self, const char *code, const char *title,
                           const char *advice)
{
  g_autofree char *message = NULL;
  g_autofree char *markup = NULL;

  g_return_if_fail (PH_IS_JOIN_PAGE (self));
  g_return_if_fail (code != NULL);
  g_return_if_fail (title != NULL && advice != NULL);

  /* The code stays, so the person sees which one was refused; typing
   * another one clears the message. */
  gtk_editable_set_text (GTK_EDITABLE (self->code_entry), code);
  gtk_editable_set_position (GTK_EDITABLE (self->code_entry), -1);
  message = g_strdup_printf ("%s\n%s", title, advice);
  markup = g_markup_printf_escaped ("<b>%s</b>\n%s", title, advice);
  show_error_full (self, message, markup);
  /* The same code would be refused again. */
  gtk_widget_set_sensitive (self->join_button, FALSE);
}

GtkEditable *
ph_join_page_get_entry (PhJoinPage *self)
{
  g_return_val_if_fail (PH_IS_JOIN_PAGE (self), NULL);

  return GTK_EDITABLE (self->code_entry);
}

const char *
ph_join_page_get_error (PhJoinPage *self)
{
  g_return_val_if_fail (PH_IS_JOIN_PAGE (self), NULL);

  return self->error;
}

GStrv
ph_join_page_dup_suggestions (PhJoinPage *self)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  g_return_val_if_fail (PH_IS_JOIN_PAGE (self), NULL);

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->suggestions_box));
       child != NULL; child = gtk_widget_get_next_sibling (child))
    g_strv_builder_add (builder, gtk_button_get_label (GTK_BUTTON (child)));
  return g_strv_builder_end (builder);
}
