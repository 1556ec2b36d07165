/* The test-control plane under /__admin/: health, reset, isolated orgs, the
 * request journal, fault injection, the clock, and reading any contact. JSON in
 * and out, errors in the API's envelope; --admin-token guards it (http_pipeline.c). */
#pragma once

struct request;

void admin_health(struct request *r);	       /* GET /__admin/health */
void admin_reset(struct request *r);	       /* POST /__admin/reset */
void admin_orgs_list(struct request *r);       /* GET /__admin/orgs */
void admin_export(struct request *r);	       /* GET /__admin/export */
void admin_import(struct request *r);	       /* POST /__admin/import */
void admin_org_create(struct request *r);      /* POST /__admin/orgs */
void admin_org_delete(struct request *r);      /* DELETE /__admin/orgs/{org_id} */
void admin_contact(struct request *r);	       /* GET /__admin/orgs/{org_id}/contacts/{id} */
void admin_requests(struct request *r);	       /* GET /__admin/requests */
void admin_requests_count(struct request *r);  /* GET /__admin/requests/count */
void admin_request_get(struct request *r);     /* GET /__admin/requests/{id} */
void admin_requests_clear(struct request *r);  /* DELETE /__admin/requests */
void admin_faults_list(struct request *r);     /* GET /__admin/faults */
void admin_faults_add(struct request *r);      /* POST /__admin/faults */
void admin_faults_clear(struct request *r);    /* DELETE /__admin/faults */
void admin_fault_remove(struct request *r);    /* DELETE /__admin/faults/{id} */
void admin_clock_get(struct request *r);       /* GET /__admin/clock */
void admin_clock_set(struct request *r);       /* POST /__admin/clock */
void admin_openapi(struct request *r);	       /* GET /openapi.json */
