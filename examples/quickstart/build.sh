#!/bin/sh
# Prints what hooktrigger passed to this build.
echo "building $repo at $sha (branch $ref) for $target"
echo "run $HOOKTRIGGER_RUN_ID of trigger $HOOKTRIGGER_TRIGGER, delivery $HOOKTRIGGER_DELIVERY"
echo "payload file: $HOOKTRIGGER_PAYLOAD ($(wc -c < "$HOOKTRIGGER_PAYLOAD") bytes)"
echo "all variables: $(cat "$HOOKTRIGGER_VARS")"
