/**
 * The shape of `src/` (issue: one provider, one request pipeline): no import
 * cycle between modules (type-only imports included), and every file short
 * enough to read in one go.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const MAX_LINES = 300;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports and re-exports of a module (`import … from './x.ts'`, `export … from`, `import('./x.ts')`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s*['"](\.[^'"]+)['"]/g),
    ...text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g),
  ].map((match) => match[1]!);
  return specifiers.map((specifier) => resolve(dirname(file), specifier));
}

/** Every cycle in an import graph (module -> the modules it imports), each as the path that closes it. */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'visiting');
    stack.push(node);
    for (const target of graph.get(node) ?? []) {
      if (state.get(target) === 'visiting') cycles.push(stack.slice(stack.indexOf(target)).concat(target));
      else if (!state.has(target)) visit(target);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

describe('the source tree', () => {
  const files = sourceFiles(SRC);

  it('has no import cycle (type-only imports included)', () => {
    const graph = new Map(files.map((file) => [file, importsOf(file).filter((target) => files.includes(target))]));
    const cycles = findCycles(graph).map((cycle) => cycle.map((file) => relative(SRC, file)).join(' -> '));
    expect(cycles).toEqual([]);
  });

  it(`has no file over ${MAX_LINES} lines`, () => {
    const long = files
      .map((file) => ({ file: relative(SRC, file), lines: readFileSync(file, 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  it('the cycle finder finds a cycle (so an empty list means something)', () => {
    expect(
      findCycles(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
          ['d', ['a']],
        ]),
      ),
    ).toEqual([['a', 'b', 'c', 'a']]);
    expect(
      findCycles(
        new Map([
          ['a', ['b']],
          ['b', []],
          ['c', ['a', 'b']],
        ]),
      ),
    ).toEqual([]);
  });
});

describe('the library surface (src/index.ts)', () => {
  /** `[name, file]` for every name `src/index.ts` re-exports. */
  function reExports(): Array<[string, string]> {
    const index = readFileSync(join(SRC, 'index.ts'), 'utf8');
    return [...index.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}\s*from\s*'(\.[^']+)'/g)].flatMap((match) =>
      match[1]!
        .split(',')
        .map((name) => name.replace(/^\s*type\s+/, '').trim())
        .filter(Boolean)
        .map((name): [string, string] => [name, resolve(SRC, match[2]!)]),
    );
  }

  /** Follows `export { name } from './x.ts'` chains to the file that declares `name`. */
  function declaringFile(name: string, file: string): string {
    const text = readFileSync(file, 'utf8');
    const reExport = [...text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}\s*from\s*'(\.[^']+)'/g)].find((match) =>
      match[1]!.split(',').some((item) => item.replace(/^\s*type\s+/, '').trim() === name),
    );
    return reExport ? declaringFile(name, resolve(dirname(file), reExport[2]!)) : file;
  }

  it('documents every export with TSDoc that has an @example', () => {
    const exports = reExports();
    expect(exports.length).toBeGreaterThan(20);
    const missing = exports.filter(([name, exportedFrom]) => {
      const file = declaringFile(name, exportedFrom);
      const text = readFileSync(file, 'utf8');
      const declaration = new RegExp(
        `\\*/\\s*\\nexport (?:async )?(?:function|class|interface|type|const) ${name}\\b`,
      ).exec(text);
      if (!declaration) return true;
      const doc = text.slice(text.lastIndexOf('/**', declaration.index), declaration.index);
      return !doc.includes('@example');
    });
    expect(missing.map(([name, file]) => `${name} (${relative(SRC, file)})`)).toEqual([]);
  });
});
