/**
 * How one AI product's figures read (R-AI-4/5): a product held only by licence is
 * unlimited, never "0 / 0 remaining"; its reads are counted apart from credits.
 */
export interface AiFigureLike {
  remaining: number;
  bought: number;
  licensedInstitutions: number;
  licenceReads: number;
}

/** Licensed and with no packs: nothing to count down, reads are unlimited. */
export function onlyLicensed(f: AiFigureLike): boolean {
  return f.licensedInstitutions > 0 && f.bought === 0;
}

/** Share of bought credits still left, 0..100. */
export function remainingPercent(f: AiFigureLike): number {
  return f.bought > 0 ? Math.round((f.remaining / f.bought) * 100) : 0;
}
