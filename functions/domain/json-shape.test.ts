import { describe, expect, it } from 'vitest';
import { jsonShapeProblems, MAX_JSON_DEPTH } from './json-shape.ts';

/** `levels` objects inside each other, the outermost included, around a 1. */
const nested = (levels: number): unknown =>
  JSON.parse(`${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`);

describe('jsonShapeProblems', () => {
  it('accepts a document exactly as deep as the limit', () => {
    expect(jsonShapeProblems(nested(MAX_JSON_DEPTH))).toEqual([]);
  });

  it('names the first container past the limit and does not look inside it', () => {
    // Prepare
    const document = nested(MAX_JSON_DEPTH + 5);

    // Act
    const problems = jsonShapeProblems(document);

    // Assess
    expect(problems).toEqual([
      {
        path: Array(MAX_JSON_DEPTH).fill('a').join('.'),
        message: expect.stringContaining(`is nested more than ${MAX_JSON_DEPTH} levels deep`),
      },
    ]);
  });

  it('counts arrays as levels too, and survives 200,000 of them without recursion', () => {
    // Prepare
    const depth = 200_000;
    const document = JSON.parse(`{"list":${'['.repeat(depth)}${']'.repeat(depth)}}`);

    // Act
    const problems = jsonShapeProblems(document);

    // Assess
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe(`list${'.0'.repeat(MAX_JSON_DEPTH - 1)}`);
  });

  it('walks a wide array without spreading it into a call', () => {
    const document = { list: Array.from({ length: 100_000 }, () => [0]) };
    expect(jsonShapeProblems(document)).toEqual([]);
  });

  it('refuses prototype keys in objects at any depth, not array indices', () => {
    // Prepare: JSON.parse makes __proto__ an own key, as a request body does.
    const document = JSON.parse(
      '{"__proto__":{},"a":{"constructor":1},"list":[{"prototype":2}],"fine":["x"]}',
    );

    // Act
    const paths = jsonShapeProblems(document).map((problem) => problem.path);

    // Assess
    expect(paths).toEqual(['__proto__', 'a.constructor', 'list.0.prototype']);
  });

  it('refuses lone surrogates in values and keys; pairs are fine', () => {
    // Prepare
    const document = JSON.parse(
      '{"ok":"\\ud83d\\ude00","bad":"x\\udc00","list":["\\ud800"],"\\ud801":1}',
    );

    // Act
    const problems = jsonShapeProblems(document);

    // Assess
    expect(problems.map((problem) => problem.path)).toEqual(['bad', 'list.0', '\ud801']);
    expect(problems[0]?.message).toContain('is not valid Unicode');
  });

  it('stops at the number of problems asked for', () => {
    const document = { list: Array.from({ length: 1000 }, () => '\ud800') };
    expect(jsonShapeProblems(document, 20)).toHaveLength(20);
  });

  it('refuses numbers that cannot be stored as they are, wherever they are', () => {
    // Prepare: what JSON.parse makes of texts JSON allows (1e400 is Infinity).
    const document = JSON.parse(
      '{"inf":1e400,"neg":-1e400,"big":9007199254740993,"list":[-1e20],"tiny":{"x":1e-200},' +
        '"fine":[0,-0,1e-400,1e-130,-9007199254740991,0.1,1.7976931348623157e-120]}',
    );

    // Act
    const problems = jsonShapeProblems(document);

    // Assess
    expect(problems).toEqual([
      { path: 'inf', message: expect.stringContaining('would be read as Infinity') },
      { path: 'neg', message: expect.stringContaining('would be read as Infinity') },
      { path: 'big', message: expect.stringContaining('cannot be kept exactly') },
      { path: 'list.0', message: expect.stringContaining('cannot be kept exactly') },
      { path: 'tiny.x', message: expect.stringContaining('closer to 0 than 1e-130') },
    ]);
  });

  it('refuses the characters SQS cannot carry only in text that goes on a queue', () => {
    // Prepare
    const document = { a: 'x\uffff', '\ufffe': 1, list: ['\ufffd', '\ud83d\ude00'] };

    // Act
    const queued = jsonShapeProblems(document, Infinity, { queued: true });
    const stored = jsonShapeProblems(document);

    // Assess
    expect(queued).toEqual([
      { path: 'a', message: expect.stringContaining('SQS refuses') },
      { path: '\ufffe', message: expect.stringContaining('SQS refuses') },
    ]);
    expect(stored).toEqual([]);
  });
});
