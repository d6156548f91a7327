/**
 * What the edge's error pages say, in Icelandic and English, per error code:
 * a title and an explanation written for the person reading, not for the
 * developer (the stable code is printed under them). Keyed by the codes of
 * `ERROR_STATUS`; a test checks that every code has both languages.
 */
import type { Locale } from './locale.ts';

/** A page's heading and its explanation (plain text: escaped when rendered). */
export interface PageText {
  readonly title: string;
  readonly explanation: string;
}

type Entry = Readonly<Record<Locale, readonly [title: string, explanation: string]>>;

const SIGN_IN_FAILED = { is: 'Innskráning mistókst', en: 'Sign-in failed' } as const;
const REFUSED = { is: 'Beiðni hafnað', en: 'Request refused' } as const;
const DENIED = { is: 'Aðgangi hafnað', en: 'Access denied' } as const;
const SIGN_IN_REQUIRED = { is: 'Innskráningar krafist', en: 'Sign-in required' } as const;
const BAD_TOKEN = { is: 'Ógildur aðgangslykill', en: 'Invalid access token' } as const;
const NOT_FOUND = { is: 'Síða fannst ekki', en: 'Page not found' } as const;
const WENT_WRONG = { is: 'Eitthvað fór úrskeiðis', en: 'Something went wrong' } as const;
const IN_A_MOMENT = { is: 'Reyndu aftur eftir smástund.', en: 'Please try again in a moment.' } as const;

/** Title and explanation per error code and language. */
const ENTRIES: Readonly<Record<string, Entry>> = {
  config_invalid: {
    is: [
      'kenni-edge er ekki rétt stillt',
      'Innskráningargáttina fyrir framan þennan vef vantar stillingu eða stilling er ógild. Umsjónarfólk vefsins þarf að lagfæra það sem talið er upp hér fyrir neðan.',
    ],
    en: [
      'kenni-edge is not configured correctly',
      'The sign-in gateway in front of this site is missing a setting or has an invalid one. The site’s administrators need to fix what is listed below.',
    ],
  },
  login_state_missing: {
    is: [
      SIGN_IN_FAILED.is,
      'Vafrinn þinn skilaði ekki upplýsingum um innskráninguna sem hófst hér, til dæmis vegna þess að lokað er á vafrakökur, innskráningin hófst í öðrum vafra eða henni var þegar lokið. Reyndu aftur.',
    ],
    en: [
      SIGN_IN_FAILED.en,
      'Your browser did not bring back the sign-in that was started here, for instance because cookies are blocked, the sign-in began in another browser, or it was already completed. Please try again.',
    ],
  },
  login_state_invalid: {
    is: [
      SIGN_IN_FAILED.is,
      'Svarið frá innskráningarþjónustunni passaði ekki við innskráninguna sem hófst hér. Byrjaðu aftur.',
    ],
    en: [
      SIGN_IN_FAILED.en,
      'The answer from the sign-in service did not match the sign-in started here. Please start again.',
    ],
  },
  login_expired: {
    is: ['Innskráningin rann út á tíma', 'Innskráningunni var ekki lokið í tæka tíð. Byrjaðu aftur.'],
    en: ['The sign-in took too long', 'The sign-in was not finished in time. Please start again.'],
  },
  login_replayed: {
    is: [
      'Þessi innskráning hefur þegar verið notuð',
      'Innskráningin hefur þegar verið notuð, til dæmis ef farið var til baka í vafranum. Byrjaðu nýja innskráningu.',
    ],
    en: [
      'This sign-in was already used',
      'This sign-in has already been used, for instance by going back in the browser. Please start a new sign-in.',
    ],
  },
  login_too_old: {
    is: [
      'Nýlegrar innskráningar krafist',
      'Þessi síða krefst nýlegrar innskráningar, en innskráningarþjónustan staðfesti ekki að þú hefðir skráð þig inn aftur. Skráðu þig inn aftur.',
    ],
    en: [
      'A recent sign-in is needed',
      'This page needs a recent sign-in, and the sign-in service did not confirm that you signed in again. Please sign in again.',
    ],
  },
  provider_error: {
    is: [SIGN_IN_FAILED.is, 'Innskráningarþjónustan gat ekki lokið innskráningunni. Reyndu aftur.'],
    en: [SIGN_IN_FAILED.en, 'The sign-in service could not complete the sign-in. Please try again.'],
  },
  access_denied: {
    is: [DENIED.is, 'Þú hefur ekki aðgang að þessari síðu, eða hætt var við innskráninguna.'],
    en: [DENIED.en, 'You do not have access to this page, or the sign-in was cancelled.'],
  },
  delegation_denied: {
    is: [
      'Ekkert umboð',
      'Ekkert umboð fannst fyrir þig, eða aðgangi var hafnað. Þú getur skráð þig inn sem þú sjálf(ur) í staðinn.',
    ],
    en: [
      'No delegation',
      'No delegation was found for you, or access was refused. You can sign in as yourself instead.',
    ],
  },
  invalid_grant: {
    is: [SIGN_IN_FAILED.is, 'Innskráningarþjónustan tekur þessa innskráningu ekki lengur gilda. Skráðu þig inn aftur.'],
    en: [SIGN_IN_FAILED.en, 'The sign-in service no longer accepts this sign-in. Please sign in again.'],
  },
  id_token_invalid: {
    is: [
      SIGN_IN_FAILED.is,
      'Ekki tókst að staðfesta svarið frá innskráningarþjónustunni og því varstu ekki skráð(ur) inn. Reyndu aftur.',
    ],
    en: [
      SIGN_IN_FAILED.en,
      'The answer from the sign-in service could not be verified, so you were not signed in. Please try again.',
    ],
  },
  token_response_invalid: {
    is: [
      SIGN_IN_FAILED.is,
      'Innskráningarþjónustan svaraði á þann hátt að ekki var hægt að nota svarið. Reyndu aftur síðar.',
    ],
    en: [SIGN_IN_FAILED.en, 'The sign-in service answered in a way this site cannot use. Please try again later.'],
  },
  provider_unreachable: {
    is: ['Ekki náðist samband við innskráningarþjónustuna', IN_A_MOMENT.is],
    en: ['The sign-in service could not be reached', IN_A_MOMENT.en],
  },
  provider_misconfigured: {
    is: [
      'Ekki var hægt að nota innskráningarþjónustuna',
      'Stillingar innskráningarþjónustunnar passa ekki við það sem þessi vefur gerir ráð fyrir. Vandinn er ekki þín megin; reyndu aftur síðar.',
    ],
    en: [
      'The sign-in service could not be used',
      'The sign-in service’s settings do not match what this site expects. The problem is not on your side; please try again later.',
    ],
  },
  session_required: {
    is: [SIGN_IN_REQUIRED.is, 'Þú þarft að skrá þig inn til að opna þessa síðu.'],
    en: [SIGN_IN_REQUIRED.en, 'You need to sign in to open this page.'],
  },
  session_ended: {
    is: [
      'Innskráningin er útrunnin',
      'Þú hefur verið skráð(ur) út eða innskráningin er runnin út. Skráðu þig inn aftur.',
    ],
    en: ['Your sign-in has ended', 'You have been signed out, or your sign-in has expired. Please sign in again.'],
  },
  cross_site_request: {
    is: [
      REFUSED.is,
      'Annar vefur reyndi að senda þessa beiðni fyrir þína hönd og henni var því hafnað. Ef þetta var ætlunin skaltu opna þennan vef og reyna aftur þaðan.',
    ],
    en: [
      REFUSED.en,
      'Another site tried to send this request on your behalf, so it was refused. If you meant to do this, open this site and try again from there.',
    ],
  },
  session_request_invalid: {
    is: [
      REFUSED.is,
      'Beiðnin um að skrá út setu var ekki á réttu formi. Opnaðu lista yfir seturnar þínar og reyndu aftur þaðan.',
    ],
    en: [
      REFUSED.en,
      'The request to sign a session out was not in the expected form. Open the list of your sessions and try again from there.',
    ],
  },
  path_ambiguous: {
    is: [
      REFUSED.is,
      'Slóðina mátti lesa á fleiri en einn veg og henni var því hafnað. Athugaðu slóðina og reyndu aftur.',
    ],
    en: [
      REFUSED.en,
      'The address could be read in more than one way, so it was refused. Check the address and try again.',
    ],
  },
  bearer_missing: {
    is: [SIGN_IN_REQUIRED.is, 'Þessi slóð krefst aðgangslykils eða innskráningar.'],
    en: [SIGN_IN_REQUIRED.en, 'This address needs an access token or a sign-in.'],
  },
  bearer_malformed: {
    is: [BAD_TOKEN.is, 'Aðgangslykillinn sem fylgdi beiðninni er ekki á formi sem þessi vefur tekur við.'],
    en: [BAD_TOKEN.en, 'The access token sent with the request is not in a form this site accepts.'],
  },
  bearer_invalid: {
    is: [BAD_TOKEN.is, 'Aðgangslykillinn sem fylgdi beiðninni er ekki gildur eða er útrunninn.'],
    en: [BAD_TOKEN.en, 'The access token sent with the request is not valid, or has expired.'],
  },
  insufficient_scope: {
    is: [DENIED.is, 'Aðgangslykillinn veitir ekki aðgang að þessari slóð.'],
    en: [DENIED.en, 'The access token does not give access to this address.'],
  },
  insufficient_user_authentication: {
    is: [SIGN_IN_REQUIRED.is, 'Þessi slóð krefst nýlegrar innskráningar. Skráðu þig inn aftur.'],
    en: [SIGN_IN_REQUIRED.en, 'This address needs a recent sign-in. Please sign in again.'],
  },
  introspection_limited: {
    is: ['Of margar beiðnir', 'Innskráningarþjónustan fær of margar fyrirspurnir í augnablikinu. ' + IN_A_MOMENT.is],
    en: ['Too many requests', 'The sign-in service is being asked too often right now. ' + IN_A_MOMENT.en],
  },
  scope_invalid: {
    is: ['Ógild beiðni', 'Beiðnin bað um heimildir sem eru ekki gildar hér.'],
    en: ['Invalid request', 'The request asked for permissions (scopes) that are not valid here.'],
  },
  origin_not_configured: {
    is: [NOT_FOUND.is, 'Þessi vefur hefur ekkert efni á þessari slóð.'],
    en: [NOT_FOUND.en, 'This site has nothing to show at this address.'],
  },
  origin_unreachable: {
    is: ['Ekki náðist samband við vefinn', 'Vefþjónninn á bak við þessa slóð svaraði ekki. ' + IN_A_MOMENT.is],
    en: ['The site could not be reached', 'The server behind this address did not answer. ' + IN_A_MOMENT.en],
  },
  origin_timeout: {
    is: [
      'Vefurinn svaraði ekki í tæka tíð',
      'Vefþjónninn á bak við þessa slóð var of lengi að svara. ' + IN_A_MOMENT.is,
    ],
    en: [
      'The site took too long to answer',
      'The server behind this address took too long to answer. ' + IN_A_MOMENT.en,
    ],
  },
  m2m_not_configured: {
    is: [WENT_WRONG.is, 'Þennan vef vantar stillingu sem þarf til að svara þessari beiðni.'],
    en: [WENT_WRONG.en, 'This site is missing a setting it needs to answer this request.'],
  },
  not_found: {
    is: [NOT_FOUND.is, 'Ekkert er á þessari slóð. Athugaðu slóðina og reyndu aftur.'],
    en: [NOT_FOUND.en, 'There is nothing at this address. Check the address and try again.'],
  },
  method_not_allowed: {
    is: ['Beiðni ekki leyfð', 'Þessi slóð tekur ekki við beiðni af þessu tagi.'],
    en: ['Request not allowed', 'This address does not accept this kind of request.'],
  },
  internal_error: {
    is: [WENT_WRONG.is, 'Eitthvað fór úrskeiðis hjá okkur. Reyndu aftur.'],
    en: [WENT_WRONG.en, 'Something went wrong on our side. Please try again.'],
  },
};

/** For a code without an entry of its own (a test keeps that from happening): a page that still makes sense. */
const FALLBACK: Entry = {
  is: [WENT_WRONG.is, 'Ekki tókst að svara beiðninni. Reyndu aftur síðar.'],
  en: [WENT_WRONG.en, 'The request could not be answered. Please try again later.'],
};

/** The codes that have their own text (the rest get a generic page). */
export const TRANSLATED_CODES: readonly string[] = Object.freeze(Object.keys(ENTRIES));

/**
 * The title and explanation of the error page for `code` in `locale`.
 * @example
 * errorPageText('session_ended', 'is').title; // 'Innskráningin er útrunnin'
 */
export function errorPageText(code: string, locale: Locale): PageText {
  const [title, explanation] = (Object.hasOwn(ENTRIES, code) ? ENTRIES[code]! : FALLBACK)[locale];
  return { title, explanation };
}
