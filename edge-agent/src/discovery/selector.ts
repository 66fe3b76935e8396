/**
 * Kubernetes label selector syntax (`--kube-selector`), checked when the flags are read: a typo
 * would otherwise only surface as the API server's 400 on every list, retried forever. The API
 * server does the matching; this only says whether it would take the text.
 */
import { LABEL_KEY_RE, LABEL_VALUE_RE } from '@fedmesh/shared';

const KEY = LABEL_KEY_RE.source.slice(1, -1);
const VALUE = LABEL_VALUE_RE.source.slice(1, -1);
/** A set (`in (...)`) may not be empty. */
const SOME_VALUE = VALUE.replace(/\?$/, '');
const REQUIREMENT = [
  new RegExp(`^!?\\s*(${KEY})$`),
  new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`),
  new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(\\s*(${SOME_VALUE})(\\s*,\\s*(${VALUE}))*\\s*\\)$`),
  new RegExp(`^(${KEY})\\s*(<|>)\\s*\\d+$`),
];

/** Why `text` is not a label selector the API server accepts, or undefined when it is one. */
export function labelSelectorProblem(text: string): string | undefined {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
    if (depth < 0 || depth > 1) return 'unbalanced parentheses';
  }
  if (depth !== 0) return 'unbalanced parentheses';
  parts.push(text.slice(start));
  for (const raw of parts) {
    const part = raw.trim();
    if (part === '') return 'an empty requirement (two commas in a row, or a trailing comma)';
    if (!REQUIREMENT.some((re) => re.test(part)))
      return `"${part}" is not a requirement: use key, !key, key=value, key!=value, key in (a,b) or key notin (a,b)`;
  }
  return undefined;
}
