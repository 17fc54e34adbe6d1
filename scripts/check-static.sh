#!/usr/bin/env bash
# Checks that a release binary runs where no Swift is installed: a minimal Debian tree (debootstrap --variant=
# minbase, no Swift, no Foundation, no ICU), entered with chroot; the binary starts there with no configuration,
# and a message sent to it from outside over loopback lands in its Maildir inside the tree. Needs root and
# debootstrap (apt-get install debootstrap); loopback only.
#
#   scripts/check-static.sh BINARY [ROOTFS]     # ROOTFS: an existing tree to reuse (default: made in /tmp)
set -euo pipefail
binary="$(realpath "$1")"
rootfs="${2:-/tmp/swallow-rootfs}"
if [[ ! -x "$rootfs/bin/sh" ]]; then
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
fi
if find "$rootfs" -name 'libswiftCore.so*' -o -name 'libFoundation.so*' | grep -q .; then
    echo "the tree has Swift libraries: not a fair check" >&2
    exit 1
fi
install -m 0755 "$binary" "$rootfs/usr/local/bin/swallow"
rm -rf "$rootfs/srv/swallow" && mkdir -p "$rootfs/srv/swallow"
mountpoint -q "$rootfs/proc" || mount -t proc proc "$rootfs/proc"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; umount "$rootfs/proc" || true' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chroot "$rootfs" /bin/sh -c "cd /srv/swallow && exec /usr/local/bin/swallow --listen 127.0.0.1:$port" \
    >"$rootfs/srv/log" 2>&1 &
pid=$!
python3 - "$port" <<'EOF'
import smtplib, sys, time
port = int(sys.argv[1])
for _ in range(100):
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("a@client.test", ["bob@example.test"],
                       "Subject: static\r\nMessage-ID: <static-check@client.test>\r\n\r\nhello\r\n")
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("the server in the chroot did not answer")
EOF
if grep -rq "static-check@client.test" "$rootfs/srv/swallow/swallow-data/mail/example.test/bob/new/"; then
    echo "ok: $(basename "$binary") ($(du -h "$binary" | cut -f1)) started in a tree without Swift and stored a message"
else
    echo "no message stored; server log:" >&2
    cat "$rootfs/srv/log" >&2
    exit 1
fi
