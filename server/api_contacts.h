/* The emulated Invent endpoints under /orgs/{org_id}/contacts. */
#pragma once

struct request;

/* PATCH /orgs/{org_id}/contacts/{contact_id}: partial update of name, blocked and
 * unsubscribed; answers the full contact. */
void api_contacts_patch(struct request *r);
