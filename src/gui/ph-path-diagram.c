/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-path-diagram"

#include "config.h"

#include <glib/gi18n.h>

#include "ph-path-diagram.h"

#define NODE_SIZE 48
#define ICON_SIZE 22
#define LINE_WIDTH 3
#define MIN_NODE_SPACING 96
#define LABEL_GAP 8

typedef struct
{
  char *title;
  char *address; /* NULL when the hop has no known address */
  char *icon_name;
  gboolean endpoint; /* one of the two computers, drawn filled */
  gboolean relay;    /* a TURN server: the lines to it are drawn dashed */
} Hop;

struct _PhPathDiagram
{
  GtkWidget parent_instance;

  GArray *hops; /* of Hop */
};

G_DEFINE_FINAL_TYPE (PhPathDiagram, ph_path_diagram, GTK_TYPE_WIDGET)

static void
hop_clear (gpointer data)
{
  Hop *hop = data;

  g_free (hop->title);
  g_free (hop->address);
  g_free (hop->icon_name);
}

static void
add_hop (PhPathDiagram *self, const char *title, char *address, const char *icon_name,
         gboolean endpoint, gboolean relay)
{
  Hop hop = { g_strdup (title), address, g_strdup (icon_name), endpoint, relay };

  g_array_append_val (self->hops, hop);
}

static char *
format_address (const char *address, guint port)
{
  if (address == NULL)
    return NULL;
  if (strchr (address, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", address, port);
  return g_strdup_printf ("%s:%u", address, port);
}

static gboolean
is_reflexive (const char *type)
{
  return g_strcmp0 (type, "srflx") == 0 || g_strcmp0 (type, "prflx") == 0;
}

static void
get_color (GtkWidget *widget, const char *name, GdkRGBA *color)
{
  GtkStyleContext *context = gtk_widget_get_style_context (widget);

  if (name == NULL || !gtk_style_context_lookup_color (context, name, color))
    gtk_style_context_get_color (context, color);
}

static void
draw_line (GtkSnapshot *snapshot, float from_x, float to_x, float y, gboolean dashed,
           const GdkRGBA *color)
{
  const float dash = 8, gap = 5;

  if (!dashed)
    {
      gtk_snapshot_append_color (
          snapshot, color,
          &GRAPHENE_RECT_INIT (from_x, y - LINE_WIDTH / 2.0f, to_x - from_x, LINE_WIDTH));
      return;
    }

  for (float x = from_x; x < to_x; x += dash + gap)
    gtk_snapshot_append_color (
        snapshot, color,
        &GRAPHENE_RECT_INIT (x, y - LINE_WIDTH / 2.0f, MIN (dash, to_x - x), LINE_WIDTH));
}

static void
draw_node (PhPathDiagram *self, GtkSnapshot *snapshot, const Hop *hop, float center_x,
           const GdkRGBA *accent, const GdkRGBA *accent_fg, const GdkRGBA *node_fill)
{
  GskRoundedRect circle;
  GtkIconTheme *theme = gtk_icon_theme_get_for_display (gtk_widget_get_display (GTK_WIDGET (self)));
  g_autoptr (GtkIconPaintable) icon = NULL;
  const GdkRGBA *fill = hop->endpoint ? accent : node_fill;
  const GdkRGBA *icon_color = hop->endpoint ? accent_fg : accent;
  GdkRGBA icon_colors[4];

  gsk_rounded_rect_init_from_rect (
      &circle, &GRAPHENE_RECT_INIT (center_x - NODE_SIZE / 2.0f, 0, NODE_SIZE, NODE_SIZE),
      NODE_SIZE / 2.0f);
  gtk_snapshot_push_rounded_clip (snapshot, &circle);
  gtk_snapshot_append_color (snapshot, fill, &circle.bounds);
  gtk_snapshot_pop (snapshot);

  icon = gtk_icon_theme_lookup_icon (theme, hop->icon_name, NULL, ICON_SIZE,
                                     gtk_widget_get_scale_factor (GTK_WIDGET (self)),
                                     gtk_widget_get_direction (GTK_WIDGET (self)), 0);
  for (guint i = 0; i < G_N_ELEMENTS (icon_colors); i++)
    icon_colors[i] = *icon_color;

  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (
      snapshot, &GRAPHENE_POINT_INIT (center_x - ICON_SIZE / 2.0f, (NODE_SIZE - ICON_SIZE) / 2.0f));
  gtk_symbolic_paintable_snapshot_symbolic (GTK_SYMBOLIC_PAINTABLE (icon), snapshot, ICON_SIZE,
                                            ICON_SIZE, icon_colors, G_N_ELEMENTS (icon_colors));
  gtk_snapshot_restore (snapshot);
}

static PangoLayout *
create_label_layout (PhPathDiagram *self, const Hop *hop, int width)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), NULL);
  g_autofree char *markup = NULL;

  if (hop->address != NULL)
    {
      /* The port on a line of its own, so a narrow hop breaks there. */
      const char *colon = strrchr (hop->address, ':');
      g_autofree char *host = g_strndup (hop->address, colon - hop->address);
      /* Translators: the port number under an address in the path drawing */
      g_autofree char *port = g_strdup_printf (_ ("port %s"), colon + 1);

      markup = g_markup_printf_escaped ("<b>%s</b>\n<span font_family=\"monospace\" size=\"small\">"
                                        "%s\n%s</span>",
                                        hop->title, host, port);
    }
  else
    markup = g_markup_printf_escaped ("<b>%s</b>", hop->title);

  pango_layout_set_markup (layout, markup, -1);
  pango_layout_set_alignment (layout, PANGO_ALIGN_CENTER);
  pango_layout_set_width (layout, width * PANGO_SCALE);
  pango_layout_set_wrap (layout, PANGO_WRAP_WORD_CHAR);
  return layout;
}

static void
ph_path_diagram_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  PhPathDiagram *self = PH_PATH_DIAGRAM (widget);
  int width = gtk_widget_get_width (widget);
  guint n_hops = self->hops->len;
  GdkRGBA accent, accent_fg, warning, fg, node_fill;
  float spacing;

  if (n_hops < 2)
    return;

  get_color (widget, "accent_color", &accent);
  get_color (widget, "accent_fg_color", &accent_fg);
  get_color (widget, "warning_color", &warning);
  get_color (widget, NULL, &fg);
  node_fill = accent;
  node_fill.alpha = 0.15;

  spacing = (float)width / n_hops;

  /* Lines first, so the nodes cover their ends. */
  for (guint i = 1; i < n_hops; i++)
    {
      gboolean relayed = g_array_index (self->hops, Hop, i - 1).relay
                         || g_array_index (self->hops, Hop, i).relay;

      draw_line (snapshot, spacing * (i - 0.5f), spacing * (i + 0.5f), NODE_SIZE / 2.0f, relayed,
                 relayed ? &warning : &accent);
    }

  for (guint i = 0; i < n_hops; i++)
    {
      const Hop *hop = &g_array_index (self->hops, Hop, i);
      g_autoptr (PangoLayout) layout = create_label_layout (self, hop, spacing - 8);
      float center_x = spacing * (i + 0.5f);

      draw_node (self, snapshot, hop, center_x, &accent, &accent_fg, &node_fill);

      gtk_snapshot_save (snapshot);
      gtk_snapshot_translate (
          snapshot, &GRAPHENE_POINT_INIT (center_x - (spacing - 8) / 2.0f, NODE_SIZE + LABEL_GAP));
      gtk_snapshot_append_layout (snapshot, layout, &fg);
      gtk_snapshot_restore (snapshot);
    }
}

static void
ph_path_diagram_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum,
                         int *natural, int *minimum_baseline, int *natural_baseline)
{
  PhPathDiagram *self = PH_PATH_DIAGRAM (widget);
  guint n_hops = MAX (self->hops->len, 1);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = *natural = n_hops * MIN_NODE_SPACING;
      return;
    }

  /* Tall enough for every hop's title and a wrapped address. */
  *minimum = NODE_SIZE + LABEL_GAP;
  for (guint i = 0; i < self->hops->len; i++)
    {
      int spacing = (for_size > 0 ? for_size : (int)n_hops * MIN_NODE_SPACING) / (int)n_hops;
      g_autoptr (PangoLayout) layout
          = create_label_layout (self, &g_array_index (self->hops, Hop, i), spacing - 8);
      int height;

      pango_layout_get_pixel_size (layout, NULL, &height);
      *minimum = MAX (*minimum, NODE_SIZE + LABEL_GAP + height);
    }
  *natural = *minimum;
}

static void
ph_path_diagram_css_changed (GtkWidget *widget, GtkCssStyleChange *change)
{
  GTK_WIDGET_CLASS (ph_path_diagram_parent_class)->css_changed (widget, change);
  gtk_widget_queue_draw (widget);
}

static void
ph_path_diagram_finalize (GObject *object)
{
  PhPathDiagram *self = PH_PATH_DIAGRAM (object);

  g_array_unref (self->hops);

  G_OBJECT_CLASS (ph_path_diagram_parent_class)->finalize (object);
}

static void
ph_path_diagram_class_init (PhPathDiagramClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = ph_path_diagram_finalize;
  widget_class->snapshot = ph_path_diagram_snapshot;
  widget_class->measure = ph_path_diagram_measure;
  widget_class->css_changed = ph_path_diagram_css_changed;

  gtk_widget_class_set_css_name (widget_class, "pathdiagram");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
ph_path_diagram_init (PhPathDiagram *self)
{
  self->hops = g_array_new (FALSE, TRUE, sizeof (Hop));
  g_array_set_clear_func (self->hops, hop_clear);
}

GtkWidget *
ph_path_diagram_new (void)
{
  return g_object_new (PH_TYPE_PATH_DIAGRAM, NULL);
}

void
ph_path_diagram_set_path (PhPathDiagram *self, const PhPath *path, const char *peer_name)
{
  g_autofree char *description = NULL;

  g_return_if_fail (PH_IS_PATH_DIAGRAM (self));

  g_array_set_size (self->hops, 0);

  if (path != NULL)
    {
      gboolean local_relay = g_strcmp0 (path->local_type, "relay") == 0;
      gboolean remote_relay = g_strcmp0 (path->remote_type, "relay") == 0;

      add_hop (self, _ ("You"),
               g_strcmp0 (path->local_type, "host") == 0
                   ? format_address (path->local_address, path->local_port)
                   : NULL,
               "computer-symbolic", TRUE, FALSE);
      if (is_reflexive (path->local_type))
        add_hop (self, _ ("Your NAT"), format_address (path->local_address, path->local_port),
                 "network-wired-symbolic", FALSE, FALSE);
      if (local_relay)
        add_hop (self, _ ("Your relay"), format_address (path->local_address, path->local_port),
                 "network-server-symbolic", FALSE, TRUE);
      if (remote_relay)
        add_hop (self, _ ("Their relay"), format_address (path->remote_address, path->remote_port),
                 "network-server-symbolic", FALSE, TRUE);
      if (is_reflexive (path->remote_type))
        add_hop (self, _ ("Their NAT"), format_address (path->remote_address, path->remote_port),
                 "network-wired-symbolic", FALSE, FALSE);
      add_hop (self, peer_name != NULL && peer_name[0] != '\0' ? peer_name : _ ("Your peer"),
               g_strcmp0 (path->remote_type, "host") == 0
                   ? format_address (path->remote_address, path->remote_port)
                   : NULL,
               "avatar-default-symbolic", TRUE, FALSE);

      description = ph_path_describe (path);
    }

  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  description != NULL ? description : "", -1);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

GStrv
ph_path_diagram_dup_hops (PhPathDiagram *self)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  g_return_val_if_fail (PH_IS_PATH_DIAGRAM (self), NULL);

  for (guint i = 0; i < self->hops->len; i++)
    {
      const Hop *hop = &g_array_index (self->hops, Hop, i);
      g_autofree char *text = hop->address != NULL
                                  ? g_strdup_printf ("%s (%s)", hop->title, hop->address)
                                  : g_strdup (hop->title);

      g_strv_builder_add (builder, text);
    }
  return g_strv_builder_end (builder);
}
