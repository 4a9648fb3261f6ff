// Reverse-mode automatic differentiation over the graph that ops record (define-by-run).

extension Tensor {
  /// Back-propagates from this tensor: fills `grad` of every leaf that requires gradients
  /// (parameters and inputs), adding to gradients already there (gradient accumulation).
  ///
  /// - Parameter seed: the gradient of the final objective with respect to this tensor; defaults to 1
  ///   for a one-element tensor (a loss).
  /// The graph is consumed: intermediate gradients and op records are released as they are used.
  public func backward(seed: [Float]? = nil) {
    guard requiresGrad else { return }
    if let seed {
      precondition(seed.count == count, "backward: seed of \(seed.count) elements for tensor of \(count)")
      accumulateGrad(seed)
    } else {
      precondition(count == 1, "backward: a tensor of shape \(shape) needs an explicit seed gradient")
      accumulateGrad([1])
    }
    for tensor in topologicalOrder().reversed() {
      guard let node = tensor.creator else { continue }
      if let gradient = tensor.grad {
        if OpProfiler.isEnabled {
          OpProfiler.backward(node.op, shape: tensor.shape) { node.backward(gradient) }
        } else {
          node.backward(gradient)
        }
      }
      // An intermediate result: release its gradient and graph record.
      tensor.creator = nil
      tensor.grad = nil
    }
  }

  /// The tensors reachable from this one through recorded ops, inputs before the ops that use them.
  func topologicalOrder() -> [Tensor] {
    var order: [Tensor] = []
    var visited = Set<ObjectIdentifier>()
    // Iterative depth-first search (deep graphs must not overflow the stack).
    var stack: [(tensor: Tensor, expanded: Bool)] = [(self, false)]
    while let (tensor, expanded) = stack.popLast() {
      if expanded {
        order.append(tensor)
        continue
      }
      let id = ObjectIdentifier(tensor)
      if visited.contains(id) { continue }
      visited.insert(id)
      stack.append((tensor, true))
      if let node = tensor.creator {
        for input in node.inputs where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
          stack.append((input, false))
        }
      }
    }
    return order
  }
}
