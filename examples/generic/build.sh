#!/bin/sh
# Shows what a generic delivery hands to a build; replace with your own steps.
set -eu
echo "$HOOKTRIGGER_TRIGGER: event ${HOOKTRIGGER_EVENT:-?}, delivery $HOOKTRIGGER_DELIVERY"
echo "variables: $(cat "$HOOKTRIGGER_VARS")"
echo "payload: $(wc -c < "$HOOKTRIGGER_PAYLOAD") bytes in $HOOKTRIGGER_PAYLOAD"
