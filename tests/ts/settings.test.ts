import { readFileSync } from 'fs';
import { describe, expect, it } from 'vitest';

import { DEFAULTS, applySettings, settings } from '../../src/settings';

const schema = JSON.parse(readFileSync(new URL('../../schema/plugin.json', import.meta.url), 'utf-8'));

describe('settings', () => {
  it('start with the defaults schema/plugin.json gives, one for each of its settings', () => {
    const fromSchema = Object.fromEntries(
      Object.entries(schema.properties as Record<string, { default: unknown }>).map(([k, v]) => [k, v.default])
    );
    expect(DEFAULTS).toEqual(fromSchema);
  });

  it('take the registry values, and the default for one of another type', () => {
    applySettings({ valuesRuns: 5, matrixRuns: 'many' });
    expect(settings.valuesRuns).toBe(5);
    expect(settings.matrixRuns).toBe(DEFAULTS.matrixRuns);
    applySettings({});
    expect(settings).toEqual(DEFAULTS);
  });
});
