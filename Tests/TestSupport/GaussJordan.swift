/// The inverse of a row-major n × n matrix by Gauss–Jordan elimination with partial pivoting, in
/// Double: the independent reference the EASE and Cholesky tests compare with.
public func gaussJordanInverse(_ matrix: [Double], n: Int) -> [Double] {
  var left = matrix
  var right = [Double](repeating: 0, count: n * n)
  for i in 0..<n { right[i * n + i] = 1 }
  for column in 0..<n {
    let pivot = (column..<n).max { abs(left[$0 * n + column]) < abs(left[$1 * n + column]) }!
    if pivot != column {
      for k in 0..<n {
        left.swapAt(pivot * n + k, column * n + k)
        right.swapAt(pivot * n + k, column * n + k)
      }
    }
    let scale = 1 / left[column * n + column]
    for k in 0..<n {
      left[column * n + k] *= scale
      right[column * n + k] *= scale
    }
    for row in 0..<n where row != column {
      let factor = left[row * n + column]
      guard factor != 0 else { continue }
      for k in 0..<n {
        left[row * n + k] -= factor * left[column * n + k]
        right[row * n + k] -= factor * right[column * n + k]
      }
    }
  }
  return right
}
