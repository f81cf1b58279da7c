#!/bin/sh
# ipmi_sim chassis_control helper: "<dev> get power" -> "power:0|1"; "<dev> set power 0|1" / "set reset 1" / "set boot X"
# (copied from ../shared/testing/ipmi; halops' copy also accepts "identify" and logs every call to calls.log)
DIR=${IPMI_SIM_DIR:-$(dirname "$0")}
STATE=$DIR/power.state
echo "$*" >> "$DIR/calls.log"
dev=$1; op=$2; shift 2
[ -f $STATE ] || echo 1 > $STATE
case $op in
  get) for p in "$@"; do case $p in
         power) echo "power:$(cat $STATE)";;
         boot)  echo "boot:default";;
       esac; done ;;
  set) while [ $# -ge 2 ]; do case $1 in
         power) echo $2 > $STATE;;
         reset|boot|identify) ;;
         *) echo "unknown parm $1"; exit 1;;
       esac; shift 2; done ;;
esac
