/**
 * RttEstimator turns ping/pong samples into a smoothed round-trip time and an
 * estimate of the server clock, the way TCP does (RFC 6298): an
 * exponentially weighted moving average of the RTT and of its deviation.
 */
export class RttEstimator {
  /** alpha is the weight of a new sample in the smoothed RTT (1/8 as in RFC 6298). */
  readonly alpha: number;
  /** beta is the weight of a new sample in the deviation (1/4 as in RFC 6298). */
  readonly beta: number;
  private srtt: number | undefined;
  private rttvar = 0;
  private last: number | undefined;
  private offset: number | undefined;
  private count = 0;

  /** RttEstimator's constructor takes the weights; absent means RFC 6298's 1/8 and 1/4. */
  constructor(alpha = 0.125, beta = 0.25) {
    this.alpha = alpha;
    this.beta = beta;
  }

  /** rtt is the smoothed round-trip time in ms, undefined before the first sample. */
  get rtt(): number | undefined {
    return this.srtt;
  }

  /** rttVariation is the smoothed mean deviation of the RTT in ms. */
  get rttVariation(): number {
    return this.rttvar;
  }

  /** lastRtt is the most recent raw sample in ms. */
  get lastRtt(): number | undefined {
    return this.last;
  }

  /** samples counts the samples taken. */
  get samples(): number {
    return this.count;
  }

  /**
   * clockOffset is server time minus client time in ms (add it to a client
   * timestamp to get the server's), undefined until a pong carried a server time.
   */
  get clockOffset(): number | undefined {
    return this.offset;
  }

  /**
   * sample records one round trip: sentAt and receivedAt on the client's
   * clock, serverTime (optional, ms) when the server stamped its reply. A
   * negative RTT (a clock step) is ignored and returns false.
   */
  sample(sentAt: number, receivedAt: number, serverTime?: number): boolean {
    const r = receivedAt - sentAt;
    if (!(r >= 0) || !Number.isFinite(r)) return false;
    this.count++;
    this.last = r;
    if (this.srtt === undefined) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = (1 - this.beta) * this.rttvar + this.beta * Math.abs(this.srtt - r);
      this.srtt = (1 - this.alpha) * this.srtt + this.alpha * r;
    }
    if (serverTime !== undefined && Number.isFinite(serverTime)) {
      // The server stamped its reply about half a round trip before it arrived.
      const o = serverTime - (sentAt + r / 2);
      this.offset = this.offset === undefined ? o : this.offset + this.alpha * (o - this.offset);
    }
    return true;
  }

  /** reset forgets every sample. */
  reset(): void {
    this.srtt = undefined;
    this.rttvar = 0;
    this.last = undefined;
    this.offset = undefined;
    this.count = 0;
  }
}
