import { useEffect, useRef, useState, type ReactNode } from "react";

/** A windowed list: only the rows in view (plus overscan) are in the DOM, so 5,000 apps render fast.
 *  `columns` > 1 lays items out as a grid of tiles (each row holds `columns` items). */
export function Windowed<T>({ items, rowHeight, columns = 1, render, testid, overscan = 6 }: {
  items: T[];
  rowHeight: number;
  columns?: number;
  render: (item: T, index: number) => ReactNode;
  testid?: string;
  overscan?: number;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);
  const rows = Math.ceil(items.length / columns);
  const first = Math.max(0, Math.floor(scroll / rowHeight) - overscan);
  const last = Math.min(rows, Math.ceil((scroll + height) / rowHeight) + overscan);
  const visible: ReactNode[] = [];
  for (let r = first; r < last; r++) {
    const cells: ReactNode[] = [];
    for (let c = 0; c < columns; c++) {
      const i = r * columns + c;
      if (i < items.length) cells.push(<div key={i} className="cell" style={{ width: `${100 / columns}%` }}>{render(items[i] as T, i)}</div>);
    }
    visible.push(
      <div key={r} className="wrow" style={{ top: r * rowHeight, height: rowHeight }}>
        {cells}
      </div>,
    );
  }
  return (
    <div className="windowed" ref={ref} onScroll={(e) => setScroll(e.currentTarget.scrollTop)} data-testid={testid} data-count={items.length}>
      <div style={{ height: rows * rowHeight, position: "relative" }}>{visible}</div>
    </div>
  );
}
