"""A tiny Invent contacts client, the kind an application carries.

Standard library only (urllib). The one call it makes is the centre of the
contacts API: PATCH /orgs/{org_id}/contacts/{contact_id}. A 503 is retried,
up to 3 attempts in all, with a short pause between them; any other error
status is raised at once as InventError.
"""

import json
import time
import urllib.error
import urllib.request

__all__ = ["InventClient", "InventError"]


class InventError(Exception):
    """An error answer from the API: its status and its JSON envelope."""

    def __init__(self, status, body):
        self.status = status
        self.body = body
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{status}: {message}")


class InventClient:
    MAX_ATTEMPTS = 3

    def __init__(self, base_url, api_key, timeout=10.0, backoff=0.05):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.backoff = backoff
        self.last_attempts = 0  # how many attempts the last call took

    def update_contact(self, org, contact_id, **fields):
        """PATCH the given fields (name, blocked, unsubscribed); returns the contact."""
        url = f"{self.base_url}/orgs/{org}/contacts/{contact_id}"
        data = json.dumps(fields).encode("utf-8")
        for attempt in range(1, self.MAX_ATTEMPTS + 1):
            self.last_attempts = attempt
            req = urllib.request.Request(url, data=data, method="PATCH", headers={
                "Authorization": f"Bearer {self.api_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            })
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.load(resp)
            except urllib.error.HTTPError as e:
                raw = e.read()
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                if e.code == 503 and attempt < self.MAX_ATTEMPTS:
                    time.sleep(self.backoff * attempt)
                    continue
                raise InventError(e.code, body) from None
