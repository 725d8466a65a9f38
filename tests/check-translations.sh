#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Fails when a translation listed in po/LINGUAS is broken or incomplete: a
# format string that does not match its original, a fuzzy message or an
# untranslated one would show a user a wrong, outdated or English text.
# Each po file is first merged with the strings the sources hold now, so a
# new string nobody translated yet counts as untranslated.
#
# Usage: check-translations.sh MSGFMT XGETTEXT MSGMERGE SOURCE_ROOT

set -eu

usage="usage: check-translations.sh MSGFMT XGETTEXT MSGMERGE SOURCE_ROOT"
msgfmt=${1:?$usage}
xgettext=${2:?$usage}
msgmerge=${3:?$usage}
root=${4:?$usage}
status=0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The same keywords as meson's i18n "glib" preset.
(cd "$root" && "$xgettext" --package-name=pinhole --from-code=UTF-8 --add-comments \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
  --flag=N_:1:pass-c-format --flag=C_:2:pass-c-format --flag=NC_:2:pass-c-format \
  --flag=g_dngettext:2:pass-c-format --flag=g_strdup_printf:1:c-format \
  --flag=g_string_printf:2:c-format --flag=g_string_append_printf:2:c-format \
  --flag=g_error_new:3:c-format --flag=g_set_error:4:c-format \
  --files-from=po/POTFILES.in --output="$work/pinhole.pot")

languages=$(grep -v -e '^#' -e '^[[:space:]]*$' "$root/po/LINGUAS" || true)

for lang in $languages; do
  po="$root/po/$lang.po"
  if [ ! -f "$po" ]; then
    echo "po/LINGUAS lists $lang, but po/$lang.po does not exist" >&2
    status=1
    continue
  fi
  "$msgmerge" --quiet --no-fuzzy-matching --output-file="$work/$lang.po" "$po" "$work/pinhole.pot"
  # msgfmt writes its statistics to standard error.
  if ! stats=$(LC_ALL=C "$msgfmt" --check --statistics -o /dev/null "$work/$lang.po" 2>&1); then
    printf '%s\n' "$stats" >&2
    echo "po/$lang.po has errors: fix them, then run the pinhole-update-po target" >&2
    status=1
    continue
  fi
  if printf '%s\n' "$stats" | grep -q -E 'fuzzy|untranslated'; then
    echo "po/$lang.po is incomplete against the sources: $stats" >&2
    echo "run the pinhole-update-po target, translate what is new, review what is fuzzy" >&2
    status=1
    continue
  fi
  echo "po/$lang.po: $stats"
done

exit "$status"
