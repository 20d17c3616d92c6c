/** UTC to the minute: the same for every operator, whatever their time zone. */
export function formatTime(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
