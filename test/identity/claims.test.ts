/** `readIdentity`: the subject is always the represented party; a malformed actor is refused whole. */
import { describe, expect, it } from 'vitest';
import { IdentityClaimsError, readIdentity } from '../../src/identity/claims.ts';

const COMPANY = { sub: 'dev-company-aevarsson-ehf', national_id: '5501692829', name: 'Ævarsson ehf.' };
const THORDUR = { sub: 'dev-user-thordur', national_id: '0101302989', name: 'Þórður Ævarsson' };

describe('readIdentity', () => {
  it('keeps the represented party as the subject (with its kind) and the actor beside it', () => {
    const identity = readIdentity({ ...COMPANY, actor: THORDUR, delegation_type: 'c:procurator' }, COMPANY.sub);
    expect(identity).toEqual({
      subject: { ...COMPANY, kind: 'company' },
      actor: THORDUR,
      delegation_type: 'c:procurator',
    });
  });

  it('a non-delegated identity has no actor and no delegation_type (a lone delegation_type is dropped)', () => {
    expect(readIdentity({ ...THORDUR }, THORDUR.sub)).toEqual({ subject: { ...THORDUR, kind: 'person' } });
    expect(readIdentity({ ...THORDUR, delegation_type: 'c:procurator' }, THORDUR.sub)).toEqual({
      subject: { ...THORDUR, kind: 'person' },
    });
  });

  it('keeps only the sub, national_id and name of the actor', () => {
    const identity = readIdentity({ ...COMPANY, actor: { ...THORDUR, role: 'admin', sub: THORDUR.sub } }, COMPANY.sub);
    expect(identity.actor).toEqual(THORDUR);
  });

  it('gives no kind for a national id that is not a kennitala', () => {
    expect(readIdentity({ sub: 'x', national_id: '9901302989' }, 'x').subject).toEqual({
      sub: 'x',
      national_id: '9901302989',
    });
  });

  it.each([
    ['a string', 'Þórður'],
    ['a number', 101302989],
    ['null', null],
    ['an array', [THORDUR]],
    ['true', true],
    ['an object with a number national_id', { ...THORDUR, national_id: 101302989 }],
    ['an object with an array national_id', { ...THORDUR, national_id: ['0101302989'] }],
    ['an object with a national_id that is not ten digits', { ...THORDUR, national_id: '010130-2989' }],
    ['an object with a number sub', { ...THORDUR, sub: 7 }],
    ['an object with an object name', { ...THORDUR, name: { first: 'Þórður' } }],
    ['an object with an empty name', { ...THORDUR, name: '' }],
    ['an object naming no one', { name: 'Þórður Ævarsson' }],
    ['an empty object', {}],
  ])('refuses an actor that is %s', (_label, actor) => {
    expect(() => readIdentity({ ...COMPANY, actor }, COMPANY.sub)).toThrow(IdentityClaimsError);
    try {
      readIdentity({ ...COMPANY, actor }, COMPANY.sub);
    } catch (error) {
      expect((error as IdentityClaimsError).reason).toBe('actor_malformed');
    }
  });

  it.each([[7], [''], [['c:procurator']], [{ type: 'c:procurator' }], [null]])(
    'refuses a delegation_type of %j',
    (delegationType) => {
      expect(() => readIdentity({ ...COMPANY, actor: THORDUR, delegation_type: delegationType }, COMPANY.sub)).toThrow(
        expect.objectContaining({ reason: 'delegation_type_malformed' }),
      );
    },
  );
});
