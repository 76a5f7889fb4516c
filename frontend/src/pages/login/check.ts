/**
 * Login fields checked before anything is sent: an empty email or password is refused
 * in the form, so it never reaches the server and never counts as a failed login
 * (the server pauses logins after 5 failures). No password is blank (PASSWORD_BLANK),
 * so one of only spaces is as empty.
 */
export type LoginField = 'email' | 'password';

export function missingLoginFields(email: string, password: string): LoginField[] {
  const missing: LoginField[] = [];
  if (!email.trim()) missing.push('email');
  if (!password.trim()) missing.push('password');
  return missing;
}
