#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Checks the Flatpak manifest without building it (the GNOME runtime cannot be
# downloaded here): flatpak-builder must parse it without a warning, and what
# it says must agree with this meson project: the app id, the command, the
# sandbox permissions, and config-opts that are real options of the project
# with valid values, giving a release build of the GUI with its tests.
# The project's defaults come from meson.build itself, so the check follows
# the options wherever they change.
#
# Usage: check-flatpak-manifest.sh FLATPAK_BUILDER MESON MANIFEST SOURCE_ROOT APP_ID

set -eu

flatpak_builder=$1
meson=$2
manifest=$3
source_root=$4
app_id=$5

if [ -z "$flatpak_builder" ]; then
  echo "flatpak-builder was not found when the build was configured:" \
    "install it (apt-get install flatpak-builder) and run meson setup --reconfigure" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# flatpak-builder leaves its state directory in the working directory: keep
# it out of the source and build trees.
manifest=$(realpath "$manifest")
if ! (cd "$tmp" && "$flatpak_builder" --show-manifest "$manifest") >"$tmp/manifest.json" 2>"$tmp/stderr"; then
  cat "$tmp/stderr" >&2
  echo "flatpak-builder cannot parse $manifest" >&2
  exit 1
fi
# An unknown key is only a warning to flatpak-builder, but it is a typo that
# silently drops a setting.
if [ -s "$tmp/stderr" ]; then
  cat "$tmp/stderr" >&2
  echo "flatpak-builder warns about $manifest" >&2
  exit 1
fi

"$meson" introspect --buildoptions "$source_root/meson.build" >"$tmp/options.json"

python3 - "$tmp/manifest.json" "$tmp/options.json" "$app_id" "$manifest" <<'PYTHON'
import json
import sys

manifest = json.load(open(sys.argv[1]))
options = {o["name"]: o for o in json.load(open(sys.argv[2]))}
app_id = sys.argv[3]
problems = []

def expect(what, got, wanted):
    if got != wanted:
        problems.append(f"{what} is {got!r}, expected {wanted!r}")

expect("the app id", manifest.get("id", manifest.get("app-id")), app_id)
expect("the command", manifest.get("command"), "pinhole")
# Widening the sandbox must be a deliberate change to this list.
expect("finish-args", sorted(manifest.get("finish-args", [])),
       sorted(["--share=network", "--socket=wayland", "--socket=fallback-x11",
               "--share=ipc", "--device=dri"]))

modules = [m for m in manifest.get("modules", [])
           if isinstance(m, dict) and m.get("name") == "pinhole"]
if len(modules) != 1:
    problems.append("the manifest needs exactly one module named 'pinhole'")
else:
    module = modules[0]
    expect("the pinhole module's buildsystem", module.get("buildsystem"), "meson")
    expect("the pinhole module's sources", module.get("sources"),
           [{"type": "dir", "path": ".."}])

    effective = {name: o["value"] for name, o in options.items()}
    for opt in module.get("config-opts", []):
        if opt.startswith("-D"):
            name, sep, value = opt[2:].partition("=")
        elif opt.startswith("--"):
            name, sep, value = opt[2:].partition("=")
        else:
            sep = ""
        if not sep:
            problems.append(f"config-opt {opt!r} is not of the form --name=value or -Dname=value")
            continue
        o = options.get(name)
        if o is None:
            problems.append(f"config-opt {opt!r} names no option of this project")
            continue
        if o["type"] == "boolean":
            if value not in ("true", "false"):
                problems.append(f"config-opt {opt!r}: {name} is true or false")
                continue
            value = value == "true"
        elif "choices" in o and value not in o["choices"]:
            problems.append(f"config-opt {opt!r}: {name} is one of {o['choices']}")
            continue
        effective[name] = value

    expect("the Flatpak build's buildtype", effective.get("buildtype"), "release")
    # The command is the GUI: a build that quietly left it out must fail.
    expect("the Flatpak build's gui option", effective.get("gui"), "enabled")
    if module.get("run-tests"):
        expect("the Flatpak build's tests option (run-tests is on)",
               effective.get("tests"), True)

for problem in problems:
    print(problem, file=sys.stderr)
if problems:
    sys.exit(1)
print(f"{sys.argv[4]} agrees with the meson project")
PYTHON
