#!/usr/bin/env bash
# The Usenet download programs for the NZBGet and SABnzbd clients and their
# tests: Debian's nzbget (main) and sabnzbdplus (contrib; it needs unrar from
# non-free). When sabnzbdplus is missing, the contrib and non-free components
# of the archives the machine already uses for main are added in a separate
# sources file, then both are installed. Idempotent; needs root and apt-get.
set -euo pipefail
missing=()
command -v nzbget >/dev/null || missing+=(nzbget)
command -v sabnzbdplus >/dev/null || missing+=(sabnzbdplus)
if [ "${#missing[@]}" = 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "hauler: please install ${missing[*]} as root (apt-get install ${missing[*]};" \
        "sabnzbdplus is in Debian's contrib component and needs unrar from non-free)" >&2
    exit 1
fi
extra=/etc/apt/sources.list.d/hauler-contrib-non-free.sources
if [[ " ${missing[*]} " == *" sabnzbdplus "* ]] && [ ! -e "$extra" ]; then
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
    f.write("# Added by hauler's install-usenet-peers.sh for sabnzbdplus and unrar.\n")
    f.write("\n\n".join("\n".join(f"{k}: {v}" for k, v in s.items()) for s in stanzas))
    f.write("\n")
PY
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
