/**
 * The OWASP API Security Top 10 (2023), which every lint rule maps to.
 * @see https://owasp.org/API-Security/editions/2023/en/0x11-t10/
 * @module
 */

/** One item of the list. */
export interface OwaspItem {
  /** `API2:2023` */
  readonly id: string;
  readonly name: string;
  readonly url: string;
}

const item = (n: number, name: string, slug: string): OwaspItem => ({
  id: `API${n}:2023`,
  name,
  url: `https://owasp.org/API-Security/editions/2023/en/0xa${n === 10 ? 'a' : n}-${slug}/`,
});

/** The ten items, keyed `API1` … `API10`. */
export const OWASP_API_TOP_10 = {
  API1: item(1, 'Broken Object Level Authorization', 'broken-object-level-authorization'),
  API2: item(2, 'Broken Authentication', 'broken-authentication'),
  API3: item(3, 'Broken Object Property Level Authorization', 'broken-object-property-level-authorization'),
  API4: item(4, 'Unrestricted Resource Consumption', 'unrestricted-resource-consumption'),
  API5: item(5, 'Broken Function Level Authorization', 'broken-function-level-authorization'),
  API6: item(6, 'Unrestricted Access to Sensitive Business Flows', 'unrestricted-access-to-sensitive-business-flows'),
  API7: item(7, 'Server Side Request Forgery', 'server-side-request-forgery'),
  API8: item(8, 'Security Misconfiguration', 'security-misconfiguration'),
  API9: item(9, 'Improper Inventory Management', 'improper-inventory-management'),
  API10: item(10, 'Unsafe Consumption of APIs', 'unsafe-consumption-of-apis'),
} as const satisfies Record<string, OwaspItem>;

export type OwaspKey = keyof typeof OWASP_API_TOP_10;
