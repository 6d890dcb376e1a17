import { describe, expect, it } from 'vitest';

import { INotebookParameter } from '../../src/api';
import { FieldError, initialText, typedValue, valueParameter } from '../../src/fields';

const param = (type: string | null, value: unknown, literal = true): INotebookParameter => ({
  name: 'p',
  type,
  default: value,
  default_text: literal ? JSON.stringify(value) : 'os.environ["X"]',
  literal,
  help: ''
});

describe('typedValue', () => {
  it('keeps a string a string, whatever it looks like', () => {
    expect(typedValue(param('str', 'a'), '42')).toBe('42');
    expect(typedValue(param('str', 'a'), '')).toBe('');
  });

  it('reads whole numbers and numbers, and says which field is wrong', () => {
    expect(typedValue(param('int', 0), ' -7 ')).toBe(-7);
    expect(() => typedValue(param('int', 0), '7.5')).toThrow(FieldError);
    expect(() => typedValue(param('int', 0), 'seven')).toThrow('p: expected a whole number, got "seven"');
    expect(typedValue(param('float', 0.5), '1e3')).toBe(1000);
    expect(() => typedValue(param('float', 0.5), '')).toThrow('p: expected a number');
    expect(() => typedValue(param('float', 0.5), 'Infinity')).toThrow(FieldError);
  });

  it('reads lists and dicts as JSON, and refuses what is not', () => {
    expect(typedValue(param('list', []), '[1, "two"]')).toEqual([1, 'two']);
    expect(() => typedValue(param('list', []), '[1, 2')).toThrow('write the value as JSON');
  });

  it('takes a text that is not JSON as a string when nothing says the type', () => {
    expect(typedValue(param(null, null), 'plain words')).toBe('plain words');
    expect(typedValue(param(null, null), '3')).toBe(3);
    expect(typedValue(param('dict', null, false), 'x')).toBe('x');
  });
});

describe('valueParameter and initialText', () => {
  it('types a value as the YAML gave it', () => {
    expect(['a', true, 3, 2.5, [1], null, { a: 1 }].map(v => valueParameter('v', v).type)).toEqual([
      'str',
      'bool',
      'int',
      'float',
      'list',
      null,
      'dict'
    ]);
  });

  it('starts an input with the default as the user would type it', () => {
    expect(initialText(param('str', 'hello'))).toBe('hello');
    expect(initialText(param('list', [1, 2]))).toBe('[1,2]');
    expect(initialText(param('str', null, false))).toBe('os.environ["X"]');
  });
});
