// A tiny Invent contacts client, the kind an application carries.
// Global fetch only (Node 20). The one call it makes is the centre of the
// contacts API: PATCH /orgs/{org_id}/contacts/{contact_id}. A 503 is retried,
// up to 3 attempts in all, with a short pause between them; any other error
// status is thrown at once as InventError.

export class InventError extends Error {
  constructor(status, body) {
    super(`${status}: ${body && typeof body === 'object' ? body.message : body}`);
    this.name = 'InventError';
    this.status = status;
    this.body = body;
  }
}

const MAX_ATTEMPTS = 3;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class InventClient {
  constructor(baseUrl, apiKey, { backoffMs = 50 } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.apiKey = apiKey;
    this.backoffMs = backoffMs;
    this.lastAttempts = 0; // how many attempts the last call took
  }

  // fields: any of name, blocked, unsubscribed. Resolves to the contact.
  async updateContact(org, contactId, fields) {
    const url = `${this.baseUrl}/orgs/${encodeURIComponent(org)}/contacts/${encodeURIComponent(contactId)}`;
    for (let attempt = 1; ; attempt++) {
      this.lastAttempts = attempt;
      const res = await fetch(url, {
        method: 'PATCH',
        headers: {
          Authorization: `Bearer ${this.apiKey}`,
          'Content-Type': 'application/json',
          Accept: 'application/json',
        },
        body: JSON.stringify(fields),
      });
      const text = await res.text();
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      if (res.ok) return body;
      if (res.status === 503 && attempt < MAX_ATTEMPTS) {
        await sleep(this.backoffMs * attempt);
        continue;
      }
      throw new InventError(res.status, body);
    }
  }
}
