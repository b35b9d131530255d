/**
 * Country codes: ISO 3166-1 alpha-2, as policies name them and as proxies report them.
 * @module
 */

/** The 249 officially assigned ISO 3166-1 alpha-2 codes. */
const ASSIGNED = new Set(
  (
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
    'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR ' +
    'GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP ' +
    'KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT ' +
    'MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW ' +
    'SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG ' +
    'UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW'
  ).split(' '),
);

/**
 * Codes outside the assigned set that geolocation services report and policies may name: `XK`
 * (Kosovo, user-assigned but used by Cloudflare, MaxMind and the EU) and `T1` (Cloudflare: Tor).
 */
const REPORTED = new Set(['XK', 'T1']);

/** How many codes are officially assigned (249): for the test that guards the table. */
export const ASSIGNED_COUNT = ASSIGNED.size;

/** Why a policy's country code is wrong, or undefined when it is one. */
export function checkCountryCode(code: string): string | undefined {
  if (ASSIGNED.has(code) || REPORTED.has(code)) return undefined;
  if (code === 'UK') return '"UK" is not an ISO 3166-1 code: the United Kingdom is "GB"';
  if (/^[a-z]{2}$/.test(code) && ASSIGNED.has(code.toUpperCase())) return `"${code}" must be written in capitals: "${code.toUpperCase()}"`;
  return `"${code}" is not an ISO 3166-1 alpha-2 country code (two capitals such as "DE", "US", "GB")`;
}

/**
 * A country as a proxy or the platform reports it: two letters, upper-cased; `undefined` for a
 * value that is not one (`XX`, Cloudflare's "unknown", a list, an empty header).
 */
export function reportedCountry(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  const code = value.trim().toUpperCase();
  if (!/^[A-Z][A-Z0-9]$/.test(code) || code === 'XX') return undefined;
  return code;
}
