/** Why an exam can or cannot be viewed (R-ARR-3, R-EXAM-5): a voided exam says it was
 * voided (its reason and time are shown beside), never that its storage period is over. */

export interface ExamViewLike {
  viewable: boolean;
  voidedAt?: string | null;
}

export function viewableText(exam: ExamViewLike, t: (key: string) => string): string {
  if (exam.voidedAt) return t('exam.viewableVoided');
  return t(exam.viewable ? 'exam.viewableYes' : 'exam.viewableNo');
}
