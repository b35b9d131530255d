import { defineSpec } from 'portcullis/testing';
import policy from './documents.ts';

export default defineSpec({
  name: 'documents',
  policy,
  cases: [
    { request: 'GET /v1/documents/doc_1', as: { sub: 'u_alice' }, expect: 200 },
    { request: 'GET /v1/documents/doc_1', as: { sub: 'u_carol' }, expect: 200 },
    { request: 'GET /v1/documents/doc_2', as: { sub: 'u_alice' }, expect: 403, reason: 'authz.denied' },
    { request: 'GET /v1/documents/doc_404', as: { sub: 'u_alice' }, expect: 403, reason: 'authz.denied' },
    { request: 'GET /v1/documents/doc_2', as: { sub: 'u_root', roles: ['admin'] }, expect: 200 },
    { request: 'GET /v1/tenants/t_1/settings', as: { sub: 'u_alice', roles: ['tenant-admin'], tenant_id: 't_1' }, expect: 200 },
    { request: 'GET /v1/tenants/t_2/settings', as: { sub: 'u_alice', roles: ['tenant-admin'], tenant_id: 't_1' }, expect: 403 },
    { request: 'GET /v1/tenants/t_1/settings', as: { sub: 'u_alice', roles: ['user'], tenant_id: 't_1' }, expect: 403 },
  ],
});
