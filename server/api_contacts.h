/* The emulated Invent endpoints under /orgs/{org_id}/contacts (invent-api.md §1
 * and §5). Each answers through http_request.h; auth and the JSON body are checked
 * before they are called. */
#pragma once

struct request;

/* PATCH /orgs/{org_id}/contacts/{contact_id}: partial update of name, blocked and
 * unsubscribed; 200 with the full contact. */
void api_contacts_patch(struct request *r);

/* GET /orgs/{org_id}/contacts: filtered, paged list; bare array and
 * pagination-count/-page/-take headers. */
void api_contacts_list(struct request *r);

/* POST /orgs/{org_id}/contacts: a new contact from a channel, or a channel added
 * to channel.contact_id; 201 with the full contact. */
void api_contacts_create(struct request *r);

/* GET /orgs/{org_id}/contacts/{contact_id}/segments: the contact's segments,
 * paged like the list. */
void api_contacts_segments(struct request *r);

/* POST /orgs/{org_id}/contacts/{contact_id}/segments/{segment_id}: adds the
 * segment (once); 201 with the full contact. */
void api_contacts_add_segment(struct request *r);
