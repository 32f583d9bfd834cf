#!/usr/bin/env bash
# A throwaway single-node Ceph cluster for the tests: one monitor, one memstore OSD (data in RAM, 2 GiB at most)
# and radosgw serving S3 on 127.0.0.1:RGW_PORT, with an S3 user holding ACCESS_KEY / SECRET_KEY. No cephx
# between the daemons (loopback only). Ready in ~16 s.
#
#     tests/backends/ceph-rgw-up.sh DIR ACCESS_KEY SECRET_KEY MON_PORT RGW_PORT [WATCH_PID]
#
# Needs the Debian packages radosgw, ceph-mon and ceph-osd (`apt-get install --no-install-recommends`).
# Prints "RGW ready on http://127.0.0.1:RGW_PORT" once S3 answers and the user exists, and writes the daemons'
# pids to DIR/{mon,osd,rgw}.pid. With WATCH_PID, a reaper stops the three daemons and removes DIR once that
# process has exited (the test binary: a cluster shared by its tests cannot be stopped by any one of them).
set -euo pipefail
D=${1:?usage: ceph-rgw-up.sh DIR ACCESS_KEY SECRET_KEY MON_PORT RGW_PORT [WATCH_PID]}
AK=${2:?access key}
SK=${3:?secret key}
MON_PORT=${4:?monitor port}
RGW_PORT=${5:?radosgw port}
WATCH_PID=${6:-}

mkdir -p "$D/run" "$D/log" "$D/mon.a" "$D/osd.0" "$D/rgw.a"
FSID=$(cat /proc/sys/kernel/random/uuid)
cat >"$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd objectstore = memstore
memstore device bytes = 2147483648
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
# The monitor refuses to start when its filesystem has < 5 % free; this one keeps only a few MiB there (the OSD
# is in RAM), so a nearly full test machine must not stop it.
mon data avail crit = 0
mon data avail warn = 0
osd crush chooseleaf type = 0
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
keyring = $D/keyring
[mon.a]
mon data = $D/mon.a
[osd.0]
osd data = $D/osd.0
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $D/rgw.a
CONF
C=(-c "$D/ceph.conf")

reap() {
    local name
    for name in rgw osd mon; do
        [[ -f "$D/$name.pid" ]] && kill "$(cat "$D/$name.pid")" 2>/dev/null || true
    done
}
# A failed start leaves nothing running.
trap 'rc=$?; if [[ $rc -ne 0 ]]; then reap; fi' EXIT

monmaptool --create --add a "v1:127.0.0.1:$MON_PORT" --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap"
ceph-mon "${C[@]}" -i a -f >"$D/log/mon.out" 2>&1 &
echo $! >"$D/mon.pid"
# Say why when a daemon exits during the start, instead of waiting for the caller's timeout.
died() {
    echo "$1 exited during the start; the end of its log ($2):" >&2
    tail -n 20 "$2" >&2
    exit 1
}
until timeout 5 ceph "${C[@]}" mon stat >/dev/null 2>&1; do
    kill -0 "$(cat "$D/mon.pid")" 2>/dev/null || died ceph-mon "$D/log/mon.out"
    sleep 0.5
done
timeout 20 ceph "${C[@]}" osd create >/dev/null
ceph-osd "${C[@]}" -i 0 --mkfs >"$D/log/osd-mkfs.out" 2>&1
start_osd() {
    ceph-osd "${C[@]}" -i 0 -f >>"$D/log/osd.out" 2>&1 &
    echo $! >"$D/osd.pid"
}
start_osd
timeout 20 ceph "${C[@]}" osd crush add osd.0 1.0 host=localhost root=default >/dev/null 2>&1
# On a loaded machine the OSD may ask the monitor before it knows the cluster's fsid ("wrong fsid") and exit:
# start it again (a few times at most).
tries=1
until timeout 5 ceph "${C[@]}" osd stat 2>/dev/null | grep -q '1 up'; do
    if ! kill -0 "$(cat "$D/osd.pid")" 2>/dev/null; then
        if ((tries >= 5)); then
            echo "ceph-osd exited $tries times; see $D/log/osd.out" >&2
            exit 1
        fi
        tries=$((tries + 1))
        start_osd
    fi
    sleep 0.5
done
radosgw "${C[@]}" -n client.rgw.a -f >"$D/log/rgw.out" 2>&1 &
echo $! >"$D/rgw.pid"
until (exec 3<>"/dev/tcp/127.0.0.1/$RGW_PORT") 2>/dev/null; do
    kill -0 "$(cat "$D/rgw.pid")" 2>/dev/null || died radosgw "$D/log/rgw.out"
    sleep 0.5
done
timeout 60 radosgw-admin "${C[@]}" user create --uid=test --display-name=test \
    --access-key="$AK" --secret="$SK" >/dev/null

if [[ -n "$WATCH_PID" ]]; then
    # Detached from our stdout, so whoever waits for this script's output is not kept waiting by the reaper.
    (
        while kill -0 "$WATCH_PID" 2>/dev/null; do sleep 1; done
        reap
        sleep 2
        rm -rf "$D"
    ) </dev/null >/dev/null 2>&1 &
    disown
fi
echo "RGW ready on http://127.0.0.1:$RGW_PORT (pids: mon $(cat "$D/mon.pid") osd $(cat "$D/osd.pid") rgw $(cat "$D/rgw.pid"))"
