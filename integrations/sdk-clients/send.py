"""Sends a fixed set of events to an Uptake server through the real
segment-analytics-python client, as a portal would after pointing it at
Uptake: `python send.py <base URL> <ingest key>`."""

import sys

import segment.analytics as analytics

base, key = sys.argv[1], sys.argv[2]
errors = []
analytics.write_key = key
analytics.host = base
analytics.on_error = lambda error, items: errors.append(error)
analytics.sync_mode = True

analytics.track("py-cy", "Signed In")
analytics.page("py-cy", name="Settings", properties={"path": "/settings"})
analytics.track("py-cy", "ai_invocation", {"agent": "helper", "agent_type": "assistant", "source": "slack"})
analytics.identify("py-cy", {"role": "member", "teams": ["data"], "name": "Cy"})
analytics.track("py-cy", "Exported Report")
analytics.flush()

if errors:
    print(errors, file=sys.stderr)
    sys.exit(1)
