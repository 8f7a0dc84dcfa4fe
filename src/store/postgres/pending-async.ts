/** Until the stores' interfaces are async on main: each method as it will be (a Promise of today's result). */
export type Async<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => Generator<infer Y>
    ? (...args: A) => AsyncGenerator<Y>
    : T[K] extends (...args: infer A) => infer R
      ? (...args: A) => Promise<R>
      : T[K];
};
