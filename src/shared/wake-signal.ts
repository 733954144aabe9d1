/**
 * The waiting of a component's work loop (the sender, metadata sync): it sleeps until
 * something happens (`wake()`), a safety tick passes, or the component stops. A wake that
 * comes while the loop is busy is remembered, so none is ever lost between two waits.
 */
export class WakeSignal {
  private woken = false;
  private waiter: (() => void) | null = null;

  /** Lets the loop run now (or as soon as it next waits). */
  wake(): void {
    this.woken = true;
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Resolves at the next wake, or after `tickMs` when given (a slow safety net). */
  wait(tickMs?: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = tickMs === undefined ? undefined : setTimeout(() => this.wake(), tickMs);
      this.waiter = () => {
        clearTimeout(timer);
        this.woken = false;
        resolve();
      };
    });
  }
}
