/** Prometheus text exposition: `# HELP`, `# TYPE` and samples, written in order. */

export type Labels = Readonly<Record<string, string>>;
export type Sample = readonly [labels: Labels, value: number];

export class Exposition {
  private readonly out: string[] = [];

  metric(name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: number | readonly Sample[]): void {
    this.out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    if (typeof samples === 'number') this.out.push(`${name} ${num(samples)}`);
    else for (const [labels, value] of samples) this.sample(name, labels, value);
  }

  sample(name: string, labels: Labels, value: number): void {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    this.out.push(`${name}${l.length > 0 ? `{${l.join(',')}}` : ''} ${num(value)}`);
  }

  text(): string {
    return `${this.out.join('\n')}\n`;
  }
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
