/**
 * The words around the error text on the edge's pages, in Icelandic and
 * English: buttons, the code line, the 403 page and the cross-site logout
 * confirmation. Names are inserted by the renderers, escaped.
 */
import type { Locale } from './locale.ts';

/** A link label an error may ask for on its page (the link's target comes with the error). */
export type PageLabel = 'try_again' | 'sign_in_as_yourself' | 'sign_in_again';

/** Every string a page needs besides its error text. */
export interface UiText {
  readonly labels: Readonly<Record<PageLabel | 'back', string>>;
  /** "Error code" in front of the stable code. */
  readonly errorCode: string;
  /** In front of a configuration problem's fix. */
  readonly fix: string;
  readonly denied: {
    readonly title: string;
    readonly lead: string;
    /** Sentences with `{who}` / `{for}` where the (escaped) names go. */
    readonly signedInAs: string;
    readonly signedInAsFor: string;
    readonly unnamed: string;
    readonly switchDelegation: string;
    readonly signOut: string;
  };
  readonly logout: { readonly title: string; readonly lead: string; readonly signOut: string };
}

/** The page words per language. */
export const UI_TEXT: Readonly<Record<Locale, UiText>> = Object.freeze({
  is: {
    labels: {
      try_again: 'Reyna aftur',
      sign_in_as_yourself: 'Skrá inn sem þú sjálf(ur)',
      sign_in_again: 'Skrá inn aftur',
      back: 'Til baka',
    },
    errorCode: 'Villukóði',
    fix: 'Lagfæring',
    denied: {
      title: 'Aðgangi hafnað',
      lead: 'Þú hefur ekki aðgang að þessari síðu.',
      signedInAs: 'Þú ert skráð(ur) inn sem {who}.',
      signedInAsFor: 'Þú ert skráð(ur) inn sem {who} fyrir hönd {for}.',
      unnamed: 'ónefnt auðkenni',
      switchDelegation: 'Skipta um umboð',
      signOut: 'Skrá út',
    },
    logout: {
      title: 'Viltu skrá þig út?',
      lead: 'Annar vefur bað um að þú yrðir skráð(ur) út. Ef þú vilt skrá þig út skaltu ýta á hnappinn.',
      signOut: 'Skrá út',
    },
  },
  en: {
    labels: {
      try_again: 'Try again',
      sign_in_as_yourself: 'Sign in as yourself',
      sign_in_again: 'Sign in again',
      back: 'Back',
    },
    errorCode: 'Error code',
    fix: 'Fix',
    denied: {
      title: 'Access denied',
      lead: 'You do not have access to this page.',
      signedInAs: 'You are signed in as {who}.',
      signedInAsFor: 'You are signed in as {who} on behalf of {for}.',
      unnamed: 'an unnamed identity',
      switchDelegation: 'Switch delegation',
      signOut: 'Sign out',
    },
    logout: {
      title: 'Sign out?',
      lead: 'Another site asked to sign you out. If you want to sign out, press the button.',
      signOut: 'Sign out',
    },
  },
});
