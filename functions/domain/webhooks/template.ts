import Handlebars from 'handlebars';

/**
 * The sandbox that payload templates (payload_transformation.template) run
 * in: a private Handlebars environment with a few helpers, no partials or
 * decorators, no prototype access, and bounds on loops and output. Saving a
 * webhook checks its template here and delivery renders it here, so a
 * template that is accepted is one that runs.
 */

/** The template cannot produce a body. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

/** The most a template may render, in UTF-8 bytes. */
export const MAX_TEMPLATE_OUTPUT_BYTES = 256 * 1024;
/** Loop iterations per render: nested `each` over large arrays must not hang a worker. */
export const MAX_TEMPLATE_ITERATIONS = 20_000;
const MAX_CACHED_TEMPLATES = 100;

const sandbox = Handlebars.create();
// No logging from tenant templates, and no inline partials: they allow recursion.
sandbox.unregisterHelper('log');
sandbox.unregisterDecorator('inline');

/**
 * Text the string helpers (stringify, concat, escape_markup) may build in one
 * render before it is cut to size: a whole event's data, pretty-printed, fits
 * several times over.
 */
const MAX_TEMPLATE_WORK_CHARS = 8 * MAX_TEMPLATE_OUTPUT_BYTES;

/** What one render may still spend. Rendering is synchronous, so one render at a time. */
const allowance = { iterations: 0, chars: 0, work: 0 };

const spend = (text: string): string => {
  allowance.chars -= text.length;
  if (allowance.chars < 0) throw tooLarge();
  return text;
};

const spendWork = (text: string): string => {
  allowance.work -= text.length;
  if (allowance.work < 0) {
    throw new TemplateError(
      `The payload template builds more than ${MAX_TEMPLATE_WORK_CHARS} characters of text`,
    );
  }
  return text;
};

/** Any value as text: strings as they are, nothing as '', the rest as JSON. */
const asText = (value: unknown): string => {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  return JSON.stringify(value) ?? '';
};

/** The helper's own arguments, without the options object Handlebars passes last. */
const argumentsOf = (args: unknown[]): unknown[] => args.slice(0, -1);

/** An entity cut in half at the end (`&am`), which a chat tool would show as text. */
const PARTIAL_ENTITY = /&[#A-Za-z0-9]{0,8}$/;
const HIGH_SURROGATE = /[\uD800-\uDBFF]/;

/**
 * At most `max` UTF-16 code units (what Slack, Discord and JavaScript count),
 * the last one an ellipsis when anything was cut. Never splits a surrogate
 * pair or an HTML entity.
 */
export const truncateText = (text: string, max: number): string => {
  if (text.length <= max) return text;
  if (max < 1) return '';
  let end = max - 1;
  // A high surrogate at the cut would be left alone, which no UTF-8 text can carry.
  if (HIGH_SURROGATE.test(text.charAt(end - 1))) end -= 1;
  return `${text.slice(0, end).replace(PARTIAL_ENTITY, '')}\u2026`;
};

/** `&`, `<` and `>` as entities: Slack's mrkdwn and Google Chat's card text parse them. */
export const escapeMarkup = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const wholeNumber = (value: unknown, helper: string): number => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TemplateError(`${helper} takes a length that is a whole number`);
  }
  return value;
};

const tooLarge = () =>
  new TemplateError(`The payload template renders more than ${MAX_TEMPLATE_OUTPUT_BYTES} bytes`);

/** The helpers of our own; Handlebars adds if, unless, each, with and lookup. */
const TEMPLATE_HELPERS: Readonly<Record<string, Handlebars.HelperDelegate>> = {
  // SafeString: JSON must not be HTML-escaped.
  json: (value: unknown) => new sandbox.SafeString(spend(JSON.stringify(value ?? null))),
  eq: (left: unknown, right: unknown) => left === right,
  default: (value: unknown, fallback: unknown) =>
    value === undefined || value === null || value === '' ? fallback : value,
  upper: (value: unknown) => (typeof value === 'string' ? spend(value.toUpperCase()) : value),
  lower: (value: unknown) => (typeof value === 'string' ? spend(value.toLowerCase()) : value),
  // Text building, for chat presets: each answers a plain string, for `json` to quote.
  /** `(stringify data 2)`: the value as JSON text, indented when asked. */
  stringify: (...args: unknown[]) => {
    const [value, indent] = argumentsOf(args);
    const spaces = indent === undefined ? 0 : Math.min(wholeNumber(indent, 'stringify'), 10);
    return spendWork(JSON.stringify(value ?? null, null, spaces) ?? 'null');
  },
  /** `(concat "*" event_type "*")`: the values as text, joined. */
  concat: (...args: unknown[]) => spendWork(argumentsOf(args).map(asText).join('')),
  /** `(truncate text 3000)`: at most that many characters (truncateText). */
  truncate: (...args: unknown[]) => {
    const [value, max] = argumentsOf(args);
    return truncateText(asText(value), wholeNumber(max, 'truncate'));
  },
  /** `(escape_markup text)`: `&`, `<`, `>` as entities, so event data cannot mention or link. */
  escape_markup: (...args: unknown[]) => spendWork(escapeMarkup(asText(argumentsOf(args)[0]))),
};
for (const [name, helper] of Object.entries(TEMPLATE_HELPERS)) sandbox.registerHelper(name, helper);

const AVAILABLE_HELPERS = [
  ...Object.keys(TEMPLATE_HELPERS),
  'if',
  'unless',
  'each',
  'with',
  'lookup',
];

const builtinEach = sandbox.helpers.each;
sandbox.registerHelper(
  'each',
  function boundedEach(this: unknown, items: unknown, options: Handlebars.HelperOptions) {
    let produced = 0;
    const fn: Handlebars.TemplateDelegate = (context, frame) => {
      allowance.iterations -= 1;
      if (allowance.iterations < 0) {
        throw new TemplateError(
          `The payload template loops more than ${MAX_TEMPLATE_ITERATIONS} times`,
        );
      }
      const output = options.fn(context, frame);
      produced += output.length;
      if (produced > MAX_TEMPLATE_OUTPUT_BYTES) throw tooLarge();
      return output;
    };
    return builtinEach?.call(this, items, { ...options, fn });
  },
);

/**
 * Only the helpers above and Handlebars' block helpers compile; an unknown
 * helper is an error, not a silent lookup. helperMissing and
 * blockHelperMissing are Handlebars' internal hooks, not helpers to call by
 * name. `strict` stays off: events of one type do not all carry every field,
 * and a missing one renders empty.
 */
const TEMPLATE_COMPILE_OPTIONS: CompileOptions = {
  knownHelpersOnly: true,
  knownHelpers: {
    log: false,
    helperMissing: false,
    blockHelperMissing: false,
    ...Object.fromEntries(Object.keys(TEMPLATE_HELPERS).map((name) => [name, true])),
  },
  strict: false,
};

const RUNTIME_OPTIONS: Handlebars.RuntimeOptions = {
  allowProtoPropertiesByDefault: false,
  allowProtoMethodsByDefault: false,
  allowCallsToHelperMissing: false,
};

/** Least recently used last out. */
const compiledTemplates = new Map<string, Handlebars.TemplateDelegate>();

const compiledTemplate = (source: string): Handlebars.TemplateDelegate => {
  const cached = compiledTemplates.get(source);
  if (cached) compiledTemplates.delete(source);
  const template = cached ?? sandbox.compile(source, TEMPLATE_COMPILE_OPTIONS);
  compiledTemplates.set(source, template);
  const oldest = compiledTemplates.keys().next().value;
  if (compiledTemplates.size > MAX_CACHED_TEMPLATES && oldest !== undefined) {
    compiledTemplates.delete(oldest);
  }
  return template;
};

const firstLine = (error: unknown): string =>
  (error instanceof Error ? error.message.split('\n')[0] : undefined) ?? 'unknown error';

/** Renders `source` against `context` within the bounds; throws TemplateError on any failure. */
export const renderTemplate = (source: string, context: object): string => {
  allowance.iterations = MAX_TEMPLATE_ITERATIONS;
  allowance.chars = MAX_TEMPLATE_OUTPUT_BYTES;
  allowance.work = MAX_TEMPLATE_WORK_CHARS;
  let output: string;
  try {
    output = compiledTemplate(source)(context, RUNTIME_OPTIONS);
  } catch (error) {
    if (error instanceof TemplateError) throw error;
    // Compile errors and runaway strings ("Invalid string length") alike.
    throw new TemplateError(`The payload template failed: ${firstLine(error)}`);
  }
  if (Buffer.byteLength(output) > MAX_TEMPLATE_OUTPUT_BYTES) throw tooLarge();
  return output;
};

// ---- Checks when a webhook is saved ----------------------------------------

/** `partial "x"`; a partial named by a subexpression has no name until rendered. */
const featureName = (feature: string, name: hbs.AST.Expression): string =>
  'original' in name ? `${feature} "${String(name.original)}"` : `a ${feature}`;

/** Partials and decorators compile and fail only when rendered, so the tree is searched for them. */
class UnavailableFeatureFinder extends Handlebars.Visitor {
  problem: string | undefined;

  override PartialStatement(partial: hbs.AST.PartialStatement): void {
    this.#refuse('partial', partial.name, partial);
  }

  override PartialBlockStatement(partial: hbs.AST.PartialBlockStatement): void {
    this.#refuse('partial', partial.name, partial);
  }

  override Decorator(decorator: hbs.AST.Decorator): void {
    this.#refuse('decorator', decorator.path, decorator);
  }

  override DecoratorBlock(decorator: hbs.AST.DecoratorBlock): void {
    this.#refuse('decorator', decorator.path, decorator);
  }

  #refuse(feature: string, name: hbs.AST.Expression, node: hbs.AST.Node): void {
    this.problem ??= `uses ${featureName(feature, name)} on line ${node.loc.start.line}; ${feature}s are not available`;
  }
}

const UNKNOWN_HELPER = /unknown helper (\S+)/;

const compileProblem = (error: unknown): string => {
  const helper = UNKNOWN_HELPER.exec(firstLine(error))?.[1];
  if (helper === undefined) return `is not a valid Handlebars template: ${firstLine(error)}`;
  const line =
    error instanceof Error && 'lineNumber' in error && typeof error.lineNumber === 'number'
      ? ` on line ${error.lineNumber}`
      : '';
  return `uses helper "${helper}"${line}, which is not available; available: ${AVAILABLE_HELPERS.join(', ')}`;
};

/**
 * Why `source` would fail at every delivery, phrased to follow the field's
 * name, or undefined when it compiles in the sandbox. Failures that depend
 * on the event (output or loop bounds) can only show when rendering.
 */
export const templateProblem = (source: string): string | undefined => {
  let program: hbs.AST.Program;
  try {
    program = sandbox.parse(source);
  } catch (error) {
    return `is not a valid Handlebars template: ${firstLine(error)}`;
  }
  const finder = new UnavailableFeatureFinder();
  finder.accept(program);
  if (finder.problem) return finder.problem;
  try {
    // The same compiler and options as rendering; precompile is eager where
    // compile waits for the first render. It writes into the options it is
    // given, hence the copy.
    sandbox.precompile(source, { ...TEMPLATE_COMPILE_OPTIONS });
  } catch (error) {
    return compileProblem(error);
  }
  return undefined;
};
