/** R-EXAM-4: a DICOM UID (PS3.5 §9.1) is 1–64 characters of digit groups joined by dots,
 * the rule the server applies (domain/exams.py validate_study_uid). */
const UID = /^[0-9]+(\.[0-9]+)*$/;
export const MAX_UID_LENGTH = 64;

export function isStudyUid(value: string): boolean {
  return value.length > 0 && value.length <= MAX_UID_LENGTH && UID.test(value);
}
