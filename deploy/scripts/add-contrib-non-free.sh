#!/usr/bin/env bash
# Add the contrib and non-free components of the Debian archives this machine already
# uses for main, in one separate sources file (sabnzbdplus is in contrib; unrar and rar
# are in non-free). Idempotent; needs root. Used by the install-*-peers.sh scripts.
set -euo pipefail
extra=/etc/apt/sources.list.d/hauler-contrib-non-free.sources
if [ ! -e "$extra" ]; then
    # Copy every deb822 stanza (and one-line "deb" entry) that serves Debian's
    # main component, with Components replaced by contrib non-free.
    python3 - "$extra" <<'PY'
import glob, re, sys

stanzas = []
for path in glob.glob("/etc/apt/sources.list.d/*.sources"):
    with open(path) as f:
        for block in re.split(r"\n\s*\n", f.read()):
            fields = dict(
                (k.strip(), v.strip())
                for k, _, v in (
                    line.partition(":")
                    for line in block.splitlines()
                    if line.strip() and not line.lstrip().startswith("#")
                )
            )
            uris = fields.get("URIs", "")
            if "main" in fields.get("Components", "").split() and "debian" in uris:
                stanzas.append({**fields, "Components": "contrib non-free"})
for path in ["/etc/apt/sources.list", *glob.glob("/etc/apt/sources.list.d/*.list")]:
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        continue
    for line in lines:
        m = re.match(r"\s*deb\s+(\[[^]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)", line)
        if m and "main" in m.group(4).split() and "debian" in m.group(2):
            stanza = {"Types": "deb", "URIs": m.group(2), "Suites": m.group(3)}
            stanza["Components"] = "contrib non-free"
            for opt in (m.group(1) or "").strip("[] ").split():
                key, _, value = opt.partition("=")
                if key == "signed-by":
                    stanza["Signed-By"] = value
            stanzas.append(stanza)
if not stanzas:
    sys.exit("hauler: no Debian 'main' apt source found to add contrib/non-free to")
with open(sys.argv[1], "w") as f:
    f.write("# Added by hauler's deploy/scripts/add-contrib-non-free.sh (sabnzbdplus, unrar, rar).\n")
    f.write("\n\n".join("\n".join(f"{k}: {v}" for k, v in s.items()) for s in stanzas))
    f.write("\n")
PY
fi
