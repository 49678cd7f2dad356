import { describe, expect, it } from 'vitest';
import {
  MAX_TEMPLATE_ITERATIONS,
  MAX_TEMPLATE_OUTPUT_BYTES,
  renderTemplate,
  TemplateError,
  templateProblem,
  truncateText,
} from './template.ts';

const thrownBy = (act: () => unknown): unknown => {
  try {
    act();
  } catch (error) {
    return error;
  }
  return undefined;
};

const AVAILABLE =
  'available: json, eq, default, upper, lower, stringify, concat, truncate, escape_markup, if, unless, each, with, lookup';

describe('templateProblem', () => {
  it('accepts every helper the sandbox offers', () => {
    // Prepare
    const template = [
      '{{#each data.items}}{{json this}}{{/each}}',
      '{{lookup data "title"}}{{#with data}}{{title}}{{/with}}',
      '{{#unless data.done}}open{{/unless}}{{default data.owner "nobody"}}',
      '{{upper (lower data.title)}}{{#if (eq data.priority "high")}}!{{/if}}',
    ].join('');

    // Act
    const problem = templateProblem(template);

    // Assess
    expect(problem).toBeUndefined();
  });

  it('accepts a missing field, which renders empty', () => {
    expect(templateProblem('{{data.missing}}{{#data.missing}}x{{/data.missing}}')).toBeUndefined();
  });

  it.each([
    ['{{shout name}}', 'shout', 1],
    ['{{json (shout name)}}', 'shout', 1],
    ['{{#shout data}}x{{/shout}}', 'shout', 1],
    ['line 1\nline 2\n{{exec data q=1}}', 'exec', 3],
    ['{{log data}}', 'log', 1],
    ['{{helperMissing data}}', 'helperMissing', 1],
    ['{{#blockHelperMissing data}}x{{/blockHelperMissing}}', 'blockHelperMissing', 1],
  ])('refuses %j: helper %s is not available', (template, helper, line) => {
    expect(templateProblem(template)).toBe(
      `uses helper "${helper}" on line ${line}, which is not available; ${AVAILABLE}`,
    );
  });

  it.each([
    ['{{> header}}', 'uses partial "header" on line 1; partials are not available'],
    ['{{#> layout}}body{{/layout}}', 'uses partial "layout" on line 1; partials are not available'],
    ['{{> (lookup data "name")}}', 'uses a partial on line 1; partials are not available'],
    [
      'x\n{{#*inline "loop"}}{{> loop}}{{/inline}}',
      'uses decorator "inline" on line 2; decorators are not available',
    ],
    ['{{* tweak}}', 'uses decorator "tweak" on line 1; decorators are not available'],
  ])('refuses %j', (template, message) => {
    expect(templateProblem(template)).toBe(message);
  });

  it('reports a syntax error with its first line', () => {
    expect(templateProblem('{{#if}}')).toBe(
      'is not a valid Handlebars template: Parse error on line 1:',
    );
  });

  it('is what rendering does: an accepted template renders, a refused one fails', () => {
    // Prepare
    const accepted = '{{upper data.title}}';
    const refused = '{{shout data.title}}';

    // Act
    const rendered = renderTemplate(accepted, { data: { title: 'jam' } });
    const render = () => renderTemplate(refused, { data: { title: 'jam' } });

    // Assess
    expect(templateProblem(accepted)).toBeUndefined();
    expect(rendered).toBe('JAM');
    expect(templateProblem(refused)).toBeDefined();
    expect(render).toThrow(TemplateError);
  });

  it('does not change how templates render afterwards', () => {
    // Prepare: precompile writes into the options it gets, which are shared with rendering.
    templateProblem('{{json data}}');

    // Act
    const rendered = renderTemplate('{{json data}}|{{data.title}}', { data: { title: '<b>' } });

    // Assess
    expect(rendered).toBe('{"title":"<b>"}|&lt;b&gt;');
  });
});

describe('renderTemplate', () => {
  it('throws TemplateError for a partial, which is found only when rendering', () => {
    expect(() => renderTemplate('{{> header}}', {})).toThrow(
      new TemplateError('The payload template failed: The partial header could not be found'),
    );
  });

  it('throws TemplateError past the output bound', () => {
    // Prepare
    const blob = 'x'.repeat(MAX_TEMPLATE_OUTPUT_BYTES);

    // Act
    const render = () => renderTemplate('{{blob}}!', { blob });

    // Assess
    expect(render).toThrow(
      new TemplateError(
        `The payload template renders more than ${MAX_TEMPLATE_OUTPUT_BYTES} bytes`,
      ),
    );
  });

  it('throws TemplateError past the iteration bound, and starts each render afresh', () => {
    // Prepare
    const items = Array.from({ length: MAX_TEMPLATE_ITERATIONS + 1 }, (_, index) => index);

    // Act
    const failure = thrownBy(() => renderTemplate('{{#each items}}{{/each}}', { items }));
    const next = renderTemplate('{{#each items}}{{this}}{{/each}}', { items: [1, 2] });

    // Assess
    expect(failure).toEqual(
      new TemplateError(`The payload template loops more than ${MAX_TEMPLATE_ITERATIONS} times`),
    );
    expect(next).toBe('12');
  });
});

describe('the text helpers chat presets use', () => {
  it('builds JSON-safe text: stringify, concat, escape_markup, then json quotes it', () => {
    const output = renderTemplate(
      '{{json (concat "*" (escape_markup title) "* " (stringify data))}}',
      { title: 'a <!channel> & b', data: { n: 1, s: 'x"y' } },
    );

    expect(JSON.parse(output)).toBe('*a &lt;!channel&gt; &amp; b* {"n":1,"s":"x\\"y"}');
  });

  it('stringifies with indentation when asked, nothing as null', () => {
    expect(JSON.parse(renderTemplate('{{json (stringify data 2)}}', { data: { a: 1 } }))).toBe(
      '{\n  "a": 1\n}',
    );
    expect(JSON.parse(renderTemplate('{{json (stringify missing)}}', {}))).toBe('null');
  });

  it.each([
    ['short', 10, 'short'],
    ['exactly ten', 11, 'exactly ten'],
    ['0123456789', 5, '0123…'],
    ['ab😀cd', 4, 'ab…'],
    ['x &amp; y', 6, 'x …'],
    ['anything', 0, ''],
  ])(
    'truncates %j to %i UTF-16 units as %j, never splitting a pair or an entity',
    (text, max, cut) => {
      expect(truncateText(text, max)).toBe(cut);
      expect(truncateText(text, max).length).toBeLessThanOrEqual(max);
    },
  );

  it('refuses a length that is not a whole number, as a template failure', () => {
    expect(
      thrownBy(() => renderTemplate('{{truncate title "ten"}}', { title: 'x' })),
    ).toBeInstanceOf(TemplateError);
  });

  it('bounds the text the helpers build in one render', () => {
    const template = '{{#each data}}{{truncate (stringify ../big) 1}}{{/each}}';
    const context = { data: Array.from({ length: 40 }, () => 1), big: 'x'.repeat(100_000) };

    expect(thrownBy(() => renderTemplate(template, context))).toBeInstanceOf(TemplateError);
  });
});
